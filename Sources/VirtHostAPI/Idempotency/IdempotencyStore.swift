import HTTPServer

/// Remembers the answers to requests sent with an `Idempotency-Key`, so a client that retries
/// (after a timeout, say) gets the first answer instead of a second guest.
///
/// Keys belong to the caller: the same key from two principals is two keys. A retry that
/// arrives while the first request still runs waits for its answer. Answers of 5xx are not
/// kept, since those are worth retrying. Entries expire after `lifetime`; at most `capacity`
/// are kept, the oldest going first.
public actor IdempotencyStore {
    public struct Configuration: Sendable {
        public var lifetime: Duration
        public var capacity: Int

        public init(lifetime: Duration = .seconds(86_400), capacity: Int = 10_000) {
            self.lifetime = lifetime
            self.capacity = capacity
        }
    }

    struct Key: Hashable {
        let principal: String
        let key: String
    }

    private enum Entry {
        case running(digest: [UInt8], waiters: [CheckedContinuation<Response, Never>])
        case answered(digest: [UInt8], response: Response, expires: ContinuousClock.Instant)
    }

    enum Claim {
        /// First with this key: run the request, then ``finish(_:response:)``.
        case run
        case replay(Response)
        /// The key was used with another body.
        case conflict
    }

    public nonisolated let configuration: Configuration
    private var entries: [Key: Entry] = [:]
    /// Keys in the order they were answered, for expiry and the capacity bound.
    private var answeredOrder: [(key: Key, expires: ContinuousClock.Instant)] = []
    private var answeredStart = 0
    private let clock = ContinuousClock()

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    public var count: Int { entries.count }

    func claim(_ key: Key, digest: [UInt8]) async -> Claim {
        expire()
        switch entries[key] {
        case nil:
            entries[key] = .running(digest: digest, waiters: [])
            return .run
        case .answered(let stored, let response, _):
            return SHA256.constantTimeEqual(stored, digest) ? .replay(response) : .conflict
        case .running(let stored, var waiters):
            guard SHA256.constantTimeEqual(stored, digest) else { return .conflict }
            let response = await withCheckedContinuation { continuation in
                waiters.append(continuation)
                entries[key] = .running(digest: stored, waiters: waiters)
            }
            return .replay(response)
        }
    }

    func finish(_ key: Key, response: Response) {
        guard case .running(let digest, let waiters)? = entries[key] else { return }
        if response.status >= 500 {
            entries[key] = nil
        } else {
            let expires = clock.now + configuration.lifetime
            entries[key] = .answered(digest: digest, response: response, expires: expires)
            answeredOrder.append((key, expires))
        }
        for waiter in waiters { waiter.resume(returning: response) }
        expire()
    }

    /// Drops expired answers, then the oldest while over capacity.
    private func expire() {
        let now = clock.now
        while answeredStart < answeredOrder.count {
            let (key, expires) = answeredOrder[answeredStart]
            let answeredCount = answeredOrder.count - answeredStart
            guard expires <= now || answeredCount > configuration.capacity else { break }
            if case .answered(_, _, let stored)? = entries[key], stored == expires { entries[key] = nil }
            answeredStart += 1
        }
        if answeredStart > 1024, answeredStart * 2 > answeredOrder.count {
            answeredOrder.removeFirst(answeredStart)
            answeredStart = 0
        }
    }
}
