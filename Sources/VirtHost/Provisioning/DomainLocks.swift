import Locking

/// Locks by domain UUID and name, so two multi-step operations on one domain (two creates with
/// one UUID, a create and a delete of one name) never interleave, while operations on other
/// domains run side by side. An operation takes all its keys at once or waits, so two
/// operations cannot each hold a key the other needs.
public final class DomainLocks: Sendable {
    private struct Waiter {
        let keys: Set<String>
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var held: Set<String> = []
        var waiters: [Waiter] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// The keys of a domain: its UUID (lower case) and its name.
    public static func keys(uuid: String?, name: String?) -> Set<String> {
        var keys: Set<String> = []
        if let uuid { keys.insert("uuid:" + uuid.lowercased().filter { $0 != "-" }) }
        if let name { keys.insert("name:" + name) }
        return keys
    }

    /// Runs `body` holding every key in `keys`; waits, first come first served, while another
    /// holds any of them.
    public func withLock<T, Failure: Error>(_ keys: Set<String>, _ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        await acquire(keys)
        do {
            let result = try await body()
            release(keys)
            return result
        } catch {
            release(keys)
            throw error
        }
    }

    /// The keys held now (for tests).
    public var heldKeys: Set<String> { state.withLock { $0.held } }

    private func acquire(_ keys: Set<String>) async {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state -> Bool in
                // Behind an earlier waiter for one of the keys, so no one waits for ever.
                let queued = state.waiters.contains { !$0.keys.isDisjoint(with: keys) }
                if state.held.isDisjoint(with: keys), !queued {
                    state.held.formUnion(keys)
                    return true
                }
                state.waiters.append(Waiter(keys: keys, continuation: continuation))
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release(_ keys: Set<String>) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.held.subtract(keys)
            var woken: [CheckedContinuation<Void, Never>] = []
            var blocked: Set<String> = []
            state.waiters.removeAll { waiter in
                // In order: a waiter that cannot go yet blocks its keys for those behind it.
                guard state.held.isDisjoint(with: waiter.keys), blocked.isDisjoint(with: waiter.keys) else {
                    blocked.formUnion(waiter.keys)
                    return false
                }
                state.held.formUnion(waiter.keys)
                woken.append(waiter.continuation)
                return true
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }
}
