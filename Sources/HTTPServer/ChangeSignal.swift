import Locking

/// Wakes the waits of a shutdown when what they wait on changes (a request completes, a
/// connection resumes, an upgraded connection closes), so draining is not polled. A wait
/// re-checks its condition on each signal and gives up at its deadline.
final class ChangeSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    /// Something a wait may be waiting on has changed.
    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation &+= 1
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when `condition` holds, or at `deadline`, whichever comes first.
    func wait(until deadline: ContinuousClock.Instant, for condition: @Sendable () -> Bool) async {
        // The deadline is one more signal: a timer that wakes the wait once.
        let timer = Task { [self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            signal()
        }
        defer { timer.cancel() }
        while ContinuousClock.now < deadline {
            let seen = state.withLock { $0.generation }
            if condition() { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // A signal between the check and here would be lost: register only if none came.
                let registered = state.withLock { state -> Bool in
                    guard state.generation == seen else { return false }
                    state.waiters.append(continuation)
                    return true
                }
                if !registered { continuation.resume() }
            }
        }
    }
}
