#if canImport(Glibc)
import Glibc
#endif

/// Waits for descriptors to become readable or writable without a thread per descriptor: one
/// thread runs poll(2) over every waiter of the process and resumes each when its descriptor is
/// ready (or at its end, or failed) or its timeout passed. Hundreds of idle sockets
/// (WebSocket consoles) then cost no thread each. (poll rather than epoll: Swift's Glibc
/// module has no epoll, and a few hundred descriptors a wake-up cost microseconds.)
public final class DescriptorReadiness: Sendable {
    /// The process's one instance and thread.
    public static let shared = DescriptorReadiness()

    private struct Waiter {
        let descriptor: Int32
        /// POLLIN or POLLOUT.
        let events: Int16
        let deadline: ContinuousClock.Instant?
        let continuation: CheckedContinuation<Bool, Never>
    }
    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var nextToken: UInt64 = 0
    }
    private let state = Mutex(State())
    /// Interrupts poll when the set of waiters changed.
    private let wakePipe = WakePipe()

    private init() {
        DetachedThread.start(name: "virthost-ready") { [self] in self.run() }
    }

    /// How many waits are pending now (for tests: a blocked reader or writer waits here, on
    /// this one thread, not on a thread of its own).
    var pendingWaits: Int { state.withLock { $0.waiters.count } }

    /// True once `descriptor` is readable, at its end or failed; false when
    /// `timeoutMilliseconds` (negative: none) passed first.
    public func readable(_ descriptor: Int32, timeoutMilliseconds: Int32 = -1) async -> Bool {
        await wait(descriptor, events: Int16(POLLIN), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Returns once `descriptor` has room to write, or failed (a write then tells which).
    public func writable(_ descriptor: Int32) async {
        _ = await wait(descriptor, events: Int16(POLLOUT), timeoutMilliseconds: -1)
    }

    private func wait(_ descriptor: Int32, events: Int16, timeoutMilliseconds: Int32) async -> Bool {
        await withCheckedContinuation { continuation in
            let deadline = timeoutMilliseconds < 0 ? nil : ContinuousClock.now + .milliseconds(Int(timeoutMilliseconds))
            state.withLock { state in
                state.waiters[state.nextToken] = Waiter(descriptor: descriptor, events: events, deadline: deadline,
                                                        continuation: continuation)
                state.nextToken += 1
            }
            wakePipe.wake()
        }
    }

    private func run() {
        while true {
            let (tokens, descriptors, timeout) = state.withLock { state -> ([UInt64], [pollfd], Int32) in
                var tokens: [UInt64] = []
                var descriptors = [pollfd(fd: wakePipe.readEnd, events: Int16(POLLIN), revents: 0)]
                for (token, waiter) in state.waiters {
                    tokens.append(token)
                    descriptors.append(pollfd(fd: waiter.descriptor, events: waiter.events, revents: 0))
                }
                guard let earliest = state.waiters.values.compactMap(\.deadline).min() else { return (tokens, descriptors, -1) }
                let left = earliest - ContinuousClock.now
                let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
                return (tokens, descriptors, Int32(max(0, min(milliseconds, Int64(Int32.max)))))
            }
            var polled = descriptors
            let count = poll(&polled, nfds_t(polled.count), timeout)
            if count > 0 && polled[0].revents != 0 { wakePipe.drain() }
            var ready: [CheckedContinuation<Bool, Never>] = []
            var expired: [CheckedContinuation<Bool, Never>] = []
            state.withLock { state in
                if count > 0 {
                    // revents: POLLIN or POLLOUT, POLLHUP, POLLERR or POLLNVAL (closed): the read or
                    // write then tells which.
                    for (index, token) in tokens.enumerated() where polled[index + 1].revents != 0 {
                        if let waiter = state.waiters.removeValue(forKey: token) { ready.append(waiter.continuation) }
                    }
                }
                let now = ContinuousClock.now
                for (token, waiter) in state.waiters {
                    guard let deadline = waiter.deadline, deadline <= now else { continue }
                    state.waiters.removeValue(forKey: token)
                    expired.append(waiter.continuation)
                }
            }
            for continuation in ready { continuation.resume(returning: true) }
            for continuation in expired { continuation.resume(returning: false) }
        }
    }

    /// Up to `max` bytes from the non-blocking socket `descriptor`: empty at its end or on an
    /// error, nil when nothing came within `timeoutMilliseconds` (negative: none). The read
    /// itself never blocks; the wait is ``readable(_:timeoutMilliseconds:)``, and no buffer is
    /// held while it waits (hundreds of idle sockets hold none).
    public func receive(_ descriptor: Int32, max: Int, timeoutMilliseconds: Int32 = -1) async -> [UInt8]? {
        while true {
            if let bytes = Self.receiveNow(descriptor, max: max) { return bytes }
            guard await readable(descriptor, timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        }
    }

    /// What one non-blocking read gives: the bytes, empty at the end or on an error, nil when
    /// there is nothing yet.
    private static func receiveNow(_ descriptor: Int32, max: Int) -> [UInt8]? {
        var wouldBlock = false
        let bytes = [UInt8](unsafeUninitializedCapacity: max) { buffer, initialized in
            while true {
                let count = recv(descriptor, buffer.baseAddress, max, Int32(MSG_DONTWAIT))
                if count < 0 && errno == EINTR { continue }
                wouldBlock = count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                initialized = Swift.max(count, 0)
                return
            }
        }
        return wouldBlock ? nil : bytes
    }
}
