import CLibvirt
import Locking

/// libvirt's default event loop (`virEventRegisterDefaultImpl` + `virEventRunDefaultImpl`)
/// on one dedicated thread for the life of the process. Close callbacks, keepalive and
/// domain events are delivered on that thread.
public final class EventLoop: Sendable {
    /// The process's one event loop. Start it before opening any connection whose
    /// callbacks matter.
    public static let shared = EventLoop()

    private struct State {
        var started = false
        var stopping = false
        var wakeTimer: Int32 = -1
    }
    private let state = Mutex(State())
    private let stopped = Mutex<[CheckedContinuation<Void, Never>]?>([])

    private init() {}

    /// Registers libvirt's default event implementation and starts the loop thread, once.
    public func start() throws {
        try Libvirt.initialize()
        let shouldStart = state.withLock { state -> Bool in
            if state.started { return false }
            state.started = true
            return true
        }
        guard shouldStart else { return }
        try LibvirtError.status("virEventRegisterDefaultImpl") { virEventRegisterDefaultImpl() }
        // A timer that never fires on its own; `stop()` arms it so the loop wakes up and sees
        // the stop flag.
        let timer = virEventAddTimeout(-1, { timer, _ in virEventUpdateTimeout(timer, -1) }, nil, nil)
        state.withLock { $0.wakeTimer = timer }
        DetachedThread.start(name: "libvirt-events") { [self] in
            while !state.withLock({ $0.stopping }) {
                if virEventRunDefaultImpl() < 0 { break }
            }
            let waiters = stopped.withLock { waiters -> [CheckedContinuation<Void, Never>] in
                defer { waiters = nil }
                return waiters ?? []
            }
            waiters.forEach { $0.resume() }
        }
    }

    /// Whether the loop thread is running.
    public var isRunning: Bool { state.withLock { $0.started && !$0.stopping } }

    /// Stops the loop thread and waits for it to leave the loop. The default implementation
    /// cannot be unregistered, so a stopped loop is not started again.
    public func stop() async {
        let timer = state.withLock { state -> Int32? in
            guard state.started, !state.stopping else { return nil }
            state.stopping = true
            return state.wakeTimer
        }
        if let timer { virEventUpdateTimeout(timer, 0) }
        await withCheckedContinuation { continuation in
            let alreadyStopped = stopped.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters?.append(continuation)
                return false
            }
            if alreadyStopped || !state.withLock({ $0.started }) { continuation.resume() }
        }
    }
}
