import DequeModule
import Locking

/// A request body as it arrives, for routes declared with ``RouteOptions/streamsBody``: an
/// async sequence of chunks. When the consumer falls more than the server's high-water mark
/// behind, the connection is suspended (libmicrohttpd stops reading the socket, so TCP tells
/// the client to wait) until the consumer has caught up; memory stays bounded whatever the
/// body's size. A body beyond the route's limit ends the sequence with a 413 problem.
public struct RequestBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let channel: BodyChannel

    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BodyChannel
        public mutating func next() async throws -> [UInt8]? { try await channel.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel) }

    /// The whole body, up to `limit` bytes (for routes that stream but want it all after all).
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        var body: [UInt8] = []
        for try await chunk in self {
            guard body.count + chunk.count <= limit else { throw BodyChannel.tooLarge(limit) }
            body += chunk
        }
        return body
    }
}

/// Between libmicrohttpd's thread, which pushes what it reads, and the handler, which pulls.
final class BodyChannel: Sendable {
    private struct State {
        /// A deque, so taking the oldest chunk releases it at once and costs no shifting.
        var chunks = Deque<[UInt8]>()
        var buffered = 0
        var received = 0
        var finished = false
        var failure: Problem?
        /// The handler is done with the body: the rest is read and dropped.
        var abandoned = false
        var connectionSuspended = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let connection: ConnectionHandle
    private let limit: Int
    private let highWater: Int
    private let onSuspendChange: @Sendable (Int) -> Void

    init(connection: ConnectionHandle, limit: Int, highWater: Int, onSuspendChange: @escaping @Sendable (Int) -> Void) {
        self.connection = connection
        self.limit = limit
        self.highWater = highWater
        self.onSuspendChange = onSuspendChange
    }

    static func tooLarge(_ limit: Int) -> Problem {
        Problem(type: Problem.type(Problem.Kind.payloadTooLarge.rawValue), title: "Content Too Large", status: 413,
                detail: "the request body exceeds \(limit) bytes", extensions: ["limit_bytes": .int(limit)])
    }

    /// On libmicrohttpd's thread: takes what it read; suspends the connection when the
    /// consumer is too far behind (inside the lock, so a resume can only follow it).
    func push(_ bytes: UnsafeBufferPointer<UInt8>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.received += bytes.count
            if state.abandoned || state.failure != nil { return nil }
            if state.received > limit {
                state.failure = Self.tooLarge(limit)
                state.chunks.removeAll()
                state.buffered = 0
            } else {
                state.chunks.append(Array(bytes))
                state.buffered += bytes.count
                if state.buffered > highWater, !state.connectionSuspended {
                    state.connectionSuspended = true
                    onSuspendChange(1)
                    connection.suspend()
                }
            }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// On libmicrohttpd's thread: the body is complete.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The handler is done (it returned or threw): drop what is buffered and let the rest in.
    func abandon() {
        let resume = state.withLock { state -> Bool in
            state.abandoned = true
            state.chunks.removeAll()
            state.buffered = 0
            defer { state.connectionSuspended = false }
            return state.connectionSuspended
        }
        if resume { resumeConnection() }
    }

    /// The connection ended before the body did (libmicrohttpd completed it): the consumer
    /// gets an error, and nothing is resumed any more, since the connection is gone.
    func connectionEnded() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.finished, state.failure == nil {
                state.failure = Problem.badRequest("the connection closed before the request body was complete")
            }
            state.finished = true
            state.connectionSuspended = false
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func next() async throws -> [UInt8]? {
        while true {
            enum Step { case chunk([UInt8], resume: Bool), end, fail(Problem), wait }
            let step = state.withLock { state -> Step in
                if let failure = state.failure { return .fail(failure) }
                if let chunk = state.chunks.popFirst() {
                    state.buffered -= chunk.count
                    // Resumed once the consumer has drained half, so it is not woken per chunk.
                    let resume = state.connectionSuspended && state.buffered <= highWater / 2
                    if resume { state.connectionSuspended = false }
                    return .chunk(chunk, resume: resume)
                }
                return state.finished ? .end : .wait
            }
            switch step {
            case .chunk(let chunk, let resume):
                if resume { resumeConnection() }
                return chunk
            case .end: return nil
            case .fail(let problem): throw problem
            case .wait:
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        if state.failure != nil || state.finished || !state.chunks.isEmpty { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }

    private func resumeConnection() {
        onSuspendChange(-1)
        connection.resume()
    }
}
