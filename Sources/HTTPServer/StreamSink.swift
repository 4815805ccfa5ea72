import CMicroHTTPD
import Locking

/// Where a streamed body's producer writes and libmicrohttpd's content reader reads.
///
/// When the reader finds nothing to send it suspends the connection, so no thread waits and
/// nothing polls; a write resumes it. A producer more than `highWater` bytes ahead of the
/// client waits until the client has read, so a slow client holds memory bounded.
public final class StreamSink: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var readOffset = 0
        var finished = false
        /// The client is gone or the server stopped the stream: writes are refused.
        var closed = false
        var readerSuspended = false
        var writerWaiting: CheckedContinuation<Bool, Never>?
        var producer: Task<Void, Never>?
        var available: Int { pending.count - readOffset }
    }

    private let state = Mutex(State())
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
        guard !bytes.isEmpty else { return !state.withLock { $0.closed } }
        let (accepted, resume, mustWait) = state.withLock { state -> (Bool, Bool, Bool) in
            guard !state.closed, !state.finished else { return (false, false, false) }
            state.pending.append(contentsOf: bytes)
            let resume = state.readerSuspended
            state.readerSuspended = false
            return (true, resume, state.available > highWater)
        }
        guard accepted else { return false }
        if resume { resumeReader() }
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
        let (task, waiter) = state.withLock { state -> (Task<Void, Never>?, CheckedContinuation<Bool, Never>?) in
            state.closed = true
            state.finished = true
            defer { state.writerWaiting = nil; state.producer = nil }
            return (state.producer, state.writerWaiting)
        }
        task?.cancel()
        waiter?.resume(returning: false)
    }

    private func resumeReader() {
        onSuspendChange(-1)
        connection.resume()
    }

    /// libmicrohttpd's content reader, on its thread.
    func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        let (count, waiter) = state.withLock { state -> (Int, CheckedContinuation<Bool, Never>?) in
            let available = state.available
            if available == 0 {
                if state.finished { return (Int(MHD_CONTENT_READER_END_OF_STREAM), nil) }
                state.readerSuspended = true
                onSuspendChange(1)
                connection.suspend()
                return (0, nil)
            }
            let count = min(available, max)
            state.pending.withUnsafeBufferPointer { source in
                UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + state.readOffset, byteCount: count)
            }
            state.readOffset += count
            if state.readOffset == state.pending.count {
                state.pending.removeAll(keepingCapacity: true)
                state.readOffset = 0
            } else if state.readOffset > 64 * 1024 {
                state.pending.removeFirst(state.readOffset)
                state.readOffset = 0
            }
            var waiter: CheckedContinuation<Bool, Never>?
            if state.available <= highWater {
                waiter = state.writerWaiting
                state.writerWaiting = nil
            }
            return (count, waiter)
        }
        waiter?.resume(returning: true)
        return count
    }
}
