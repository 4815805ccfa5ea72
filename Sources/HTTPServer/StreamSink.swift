import CMicroHTTPD
import DequeModule
import Dispatch
import Locking

/// Where a streamed body's producer writes and libmicrohttpd's content reader reads.
///
/// When the reader finds nothing to send it suspends the connection, so no thread waits and
/// nothing polls; a write resumes it. A producer more than `highWater` bytes ahead of the
/// client waits until the client has read (a task on a continuation, a thread of its own in
/// ``writeBlocking(_:)``), so a slow client holds memory bounded. Written pieces are queued as
/// they are, not copied together: the only copy is into libmicrohttpd's buffer.
public final class StreamSink: Sendable {
    private struct State {
        var pieces = Deque<[UInt8]>()
        /// Bytes of the first piece already read.
        var readOffset = 0
        /// Bytes queued and not read yet.
        var available = 0
        var finished = false
        /// The client is gone or the server stopped the stream: writes are refused.
        var closed = false
        var readerSuspended = false
        var writerWaiting: CheckedContinuation<Bool, Never>?
        var threadWaiting = false
        var producer: Task<Void, Never>?
        /// Pieces already sent, kept for ``spare()`` once a producer has asked for one.
        var spares: [[UInt8]] = []
        var keepsSpares = false
    }

    /// Sent pieces kept for reuse: enough to refill while the others are in the queue.
    private static let maximumSpares = 4

    private let state = Mutex(State())
    private let threadWake = DispatchSemaphore(value: 0)
    private let connection: ConnectionHandle
    private let highWater: Int
    private let onSuspendChange: @Sendable (Int) -> Void

    init(connection: ConnectionHandle, highWater: Int, onSuspendChange: @escaping @Sendable (Int) -> Void) {
        self.connection = connection
        self.highWater = highWater
        self.onSuspendChange = onSuspendChange
    }

    func start(_ stream: ResponseStream) {
        let task = Task { [self] in
            await stream.produce(self)
            finish()
        }
        state.withLock { $0.producer = task }
    }

    /// Queues `bytes` for the client. Returns false once the stream is closed; the producer
    /// should then stop.
    public func write(_ bytes: [UInt8]) async -> Bool {
        guard let mustWait = enqueue(bytes) else { return false }
        guard mustWait else { return true }
        return await withCheckedContinuation { continuation in
            let answer = state.withLock { state -> Bool? in
                if state.closed { return false }
                if state.available <= highWater { return true }
                state.writerWaiting = continuation
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// ``write(_:)`` for a producer on a thread of its own (never on Swift's cooperative pool,
    /// which it would hold): blocks while the client is more than the high-water mark behind.
    public func writeBlocking(_ bytes: [UInt8]) -> Bool {
        guard let mustWait = enqueue(bytes) else { return false }
        guard mustWait else { return true }
        while true {
            let answer = state.withLock { state -> Bool? in
                if state.closed { return false }
                if state.available <= highWater { return true }
                state.threadWaiting = true
                return nil
            }
            if let answer { return answer }
            threadWake.wait()
        }
    }

    /// A piece the client has been sent, to be filled and written again (a bulk producer's
    /// buffers are reused instead of allocated, and faulted in, per piece). Nil when none is
    /// free; from the first call on, sent pieces are kept for it.
    public func spare() -> [UInt8]? {
        state.withLock { state in
            state.keepsSpares = true
            return state.spares.popLast()
        }
    }

    /// Queues `bytes`: nil when the stream is closed, else whether the writer must wait.
    private func enqueue(_ bytes: [UInt8]) -> Bool? {
        guard !bytes.isEmpty else { return state.withLock { $0.closed } ? nil : false }
        let (accepted, resume, mustWait) = state.withLock { state -> (Bool, Bool, Bool) in
            guard !state.closed, !state.finished else { return (false, false, false) }
            state.pieces.append(bytes)
            state.available += bytes.count
            let resume = state.readerSuspended
            state.readerSuspended = false
            return (true, resume, state.available > highWater)
        }
        guard accepted else { return nil }
        if resume { resumeReader() }
        return mustWait
    }

    /// Ends the body after what is queued.
    func finish() {
        let resume = state.withLock { state -> Bool in
            state.finished = true
            defer { state.readerSuspended = false }
            return state.readerSuspended
        }
        if resume { resumeReader() }
    }

    /// Stops the producer and refuses further writes (client gone, or shutdown).
    func close() {
        let (task, waiter, thread) = state.withLock {
            state -> (Task<Void, Never>?, CheckedContinuation<Bool, Never>?, Bool) in
            state.closed = true
            state.finished = true
            defer { state.writerWaiting = nil; state.producer = nil; state.threadWaiting = false; state.spares = [] }
            return (state.producer, state.writerWaiting, state.threadWaiting)
        }
        task?.cancel()
        waiter?.resume(returning: false)
        if thread { threadWake.signal() }
    }

    private func resumeReader() {
        onSuspendChange(-1)
        connection.resume()
    }

    /// libmicrohttpd's content reader, on its thread.
    func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        let (count, waiter, thread) = state.withLock { state -> (Int, CheckedContinuation<Bool, Never>?, Bool) in
            if state.available == 0 {
                if state.finished { return (Int(MHD_CONTENT_READER_END_OF_STREAM), nil, false) }
                state.readerSuspended = true
                onSuspendChange(1)
                connection.suspend()
                return (0, nil, false)
            }
            var copied = 0
            while copied < max, let first = state.pieces.first {
                let count = min(first.count - state.readOffset, max - copied)
                first.withUnsafeBytes { source in
                    UnsafeMutableRawPointer(buffer + copied)
                        .copyMemory(from: source.baseAddress! + state.readOffset, byteCount: count)
                }
                copied += count
                state.readOffset += count
                if state.readOffset == first.count {
                    let sent = state.pieces.removeFirst()
                    state.readOffset = 0
                    if state.keepsSpares, state.spares.count < Self.maximumSpares { state.spares.append(sent) }
                }
            }
            state.available -= copied
            guard state.available <= highWater else { return (copied, nil, false) }
            defer { state.writerWaiting = nil; state.threadWaiting = false }
            return (copied, state.writerWaiting, state.threadWaiting)
        }
        waiter?.resume(returning: true)
        if thread { threadWake.signal() }
        return count
    }
}
