import Locking

/// Callers that ask the same question while its answer is being worked out wait for the next
/// answer instead of each starting their own: under load, one libvirt sweep answers a whole
/// queue of requests. The waiters are taken when the work starts, so every answer was worked
/// out after its question was asked; none is older than a caller of its own would have got.
final class CallCoalescer<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let waiting = Mutex<[Key: [CheckedContinuation<Value, Never>]]>([:])

    /// Waits for the next answer to `key`. The first caller of a round calls `schedule`, which
    /// must make ``answer(_:with:)`` run.
    func next(_ key: Key, schedule: () -> Void) async -> Value {
        await withCheckedContinuation { continuation in
            let first = waiting.withLock { waiting in
                waiting[key, default: []].append(continuation)
                return waiting[key]?.count == 1
            }
            if first { schedule() }
        }
    }

    /// Works out the answer for everyone waiting on `key` now and hands it to each of them.
    func answer(_ key: Key, with work: () -> Value) {
        let waiters = waiting.withLock { $0.removeValue(forKey: key) } ?? []
        guard !waiters.isEmpty else { return }
        let value = work()
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// How many callers wait on `key` now.
    func waiting(on key: Key) -> Int { waiting.withLock { $0[key]?.count ?? 0 } }
}
