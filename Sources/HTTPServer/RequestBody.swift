import DequeModule
import Dispatch
import Locking

/// A request body as it arrives, for routes declared with ``RouteOptions/streamsBody``: an
/// async sequence of pieces, or, for a consumer on a thread of its own, ``nextBlocking()``.
///
/// libmicrohttpd hands a body over in pieces of its connection buffer (a few KiB); they are
/// gathered into pieces of a quarter of the server's ``HTTPServer/Configuration/bodyHighWater``
/// and the consumer is woken once per such piece (or at the end), not per read: at a GiB per
/// second, waking it per read was most of an upload's CPU. When the consumer falls more than
/// the high-water mark behind, the connection is suspended (libmicrohttpd stops reading the
/// socket, so TCP tells the client to wait) until it has caught up; memory stays bounded
/// whatever the body's size. A body beyond the route's limit ends the sequence with a 413 problem.
public struct RequestBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let channel: BodyChannel

    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BodyChannel
        public mutating func next() async throws -> [UInt8]? { try await channel.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel) }

    /// The next piece, blocking the calling thread until it is there; nil at the end. For a
    /// consumer on a thread of its own (never on Swift's cooperative pool, which it would hold).
    public func nextBlocking() throws -> [UInt8]? { try channel.nextBlocking() }

    /// Gives a piece's storage back once the consumer is done with it, to be filled again
    /// (optional: it spares an allocation, and the page faults of a fresh one, per piece).
    public func recycle(_ piece: consuming [UInt8]) { channel.recycle(consume piece) }

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
        /// Full pieces, oldest first; a deque, so taking one releases it at once.
        var ready = Deque<[UInt8]>()
        /// The piece libmicrohttpd's reads are gathered in.
        var filling: [UInt8] = []
        /// Storage of pieces the consumer gave back.
        var spares: [[UInt8]] = []
        /// Bytes in `ready` and `filling`.
        var buffered = 0
        var received = 0
        var finished = false
        var failure: Problem?
        /// The handler is done with the body: the rest is read and dropped.
        var abandoned = false
        var connectionSuspended = false
        var waiter: CheckedContinuation<Void, Never>?
        var threadWaiting = false
    }

    private let state = Mutex(State())
    private let threadWake = DispatchSemaphore(value: 0)
    private let connection: ConnectionHandle
    private let limit: Int
    private let highWater: Int
    private let pieceSize: Int
    private let onSuspendChange: @Sendable (Int) -> Void

    init(connection: ConnectionHandle, limit: Int, highWater: Int, onSuspendChange: @escaping @Sendable (Int) -> Void) {
        self.connection = connection
        self.limit = limit
        self.highWater = highWater
        // A quarter: the consumer can take a piece while three more arrive before a suspend.
        pieceSize = max(highWater / 4, 4096)
        self.onSuspendChange = onSuspendChange
    }

    static func tooLarge(_ limit: Int) -> Problem {
        Problem(type: Problem.type(Problem.Kind.payloadTooLarge.rawValue), title: "Content Too Large", status: 413,
                detail: "the request body exceeds \(limit) bytes", extensions: ["limit_bytes": .int(limit)])
    }

    /// On libmicrohttpd's thread: takes what it read; suspends the connection when the
    /// consumer is too far behind (inside the lock, so a resume can only follow it).
    func push(_ bytes: UnsafeBufferPointer<UInt8>) {
        change { state in
            state.received += bytes.count
            if state.abandoned || state.failure != nil { return false }
            if state.received > limit {
                state.failure = Self.tooLarge(limit)
                state.ready.removeAll()
                state.filling = []
                state.buffered = 0
                return true
            }
            var offset = 0
            while offset < bytes.count {
                if state.filling.capacity < pieceSize {
                    state.filling = state.spares.popLast() ?? []
                    state.filling.reserveCapacity(pieceSize)
                }
                let take = min(pieceSize - state.filling.count, bytes.count - offset)
                state.filling.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[offset ..< offset + take]))
                offset += take
                if state.filling.count == pieceSize {
                    state.ready.append(state.filling)
                    state.filling = []
                }
            }
            state.buffered += bytes.count
            if state.buffered > highWater, !state.connectionSuspended {
                state.connectionSuspended = true
                onSuspendChange(1)
                connection.suspend()
            }
            return !state.ready.isEmpty
        }
    }

    /// On libmicrohttpd's thread: the body is complete.
    func finish() {
        change { state in
            state.finished = true
            if !state.filling.isEmpty {
                state.ready.append(state.filling)
                state.filling = []
            }
            return true
        }
    }

    /// The handler is done (it returned or threw): drop what is buffered and let the rest in.
    func abandon() {
        let resume = state.withLock { state -> Bool in
            state.abandoned = true
            state.ready.removeAll()
            state.filling = []
            state.spares = []
            state.buffered = 0
            defer { state.connectionSuspended = false }
            return state.connectionSuspended
        }
        if resume { resumeConnection() }
    }

    /// The connection ended before the body did (libmicrohttpd completed it): the consumer
    /// gets an error, and nothing is resumed any more, since the connection is gone.
    func connectionEnded() {
        change { state in
            if !state.finished, state.failure == nil {
                state.failure = Problem.badRequest("the connection closed before the request body was complete")
            }
            state.finished = true
            state.connectionSuspended = false
            return true
        }
    }

    /// Keeps `piece`'s storage to be filled again. It must be the only reference (passed on
    /// with `consume`): emptying a shared array allocates a fresh one, whose pages would then
    /// fault in as libmicrohttpd's thread fills it.
    func recycle(_ piece: consuming [UInt8]) {
        guard piece.capacity >= pieceSize else { return }
        var storage = consume piece
        storage.removeAll(keepingCapacity: true)
        state.withLock { state in
            guard !state.abandoned, state.spares.count < 2 else { return }
            state.spares.append(storage)
            // Let go inside the lock, so the spare is unique before libmicrohttpd's thread fills it.
            storage = []
        }
    }

    private enum Step { case piece([UInt8], resume: Bool), end, fail(Problem), wait }

    /// The next step for the consumer; `wait` when nothing is there yet.
    private func take(_ state: inout State) -> Step {
        if let failure = state.failure { return .fail(failure) }
        if let piece = state.ready.popFirst() {
            state.buffered -= piece.count
            // Resumed once the consumer has drained half, so it is not woken per piece.
            let resume = state.connectionSuspended && state.buffered <= highWater / 2
            if resume { state.connectionSuspended = false }
            return .piece(piece, resume: resume)
        }
        return state.finished ? .end : .wait
    }

    func next() async throws -> [UInt8]? {
        while true {
            switch state.withLock({ take(&$0) }) {
            case .piece(let piece, let resume):
                if resume { resumeConnection() }
                return piece
            case .end: return nil
            case .fail(let problem): throw problem
            case .wait:
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        if state.failure != nil || state.finished || !state.ready.isEmpty { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }

    func nextBlocking() throws -> [UInt8]? {
        while true {
            let step = state.withLock { state -> Step in
                let step = take(&state)
                if case .wait = step { state.threadWaiting = true }
                return step
            }
            switch step {
            case .piece(let piece, let resume):
                if resume { resumeConnection() }
                return piece
            case .end: return nil
            case .fail(let problem): throw problem
            case .wait: threadWake.wait()
            }
        }
    }

    /// Changes the state; when `update` says the consumer has something to take, wakes it
    /// (the task or the thread, whichever waits).
    private func change(_ update: (inout State) -> Bool) {
        let (waiter, wakeThread) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            guard update(&state) else { return (nil, false) }
            defer { state.waiter = nil; state.threadWaiting = false }
            return (state.waiter, state.threadWaiting)
        }
        waiter?.resume()
        if wakeThread { threadWake.signal() }
    }

    private func resumeConnection() {
        onSuspendChange(-1)
        connection.resume()
    }
}
