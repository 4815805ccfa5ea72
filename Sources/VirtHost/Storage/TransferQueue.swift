import DequeModule
import Dispatch
import Locking

/// Chunks handed between a thread that blocks in a libvirt stream and async code, bounded by
/// `capacity` bytes: the side that runs ahead waits (the thread on a semaphore, the task on a
/// continuation), so a slow end slows the other instead of growing memory.
///
/// One producer and one consumer; either may be the thread. The producer ends it with
/// ``finish(failure:)``, the consumer with ``close()`` (it wants no more).
final class TransferQueue: Sendable {
    private struct State {
        /// A deque, so taking the oldest chunk releases it at once and costs no shifting.
        var chunks = Deque<[UInt8]>()
        var buffered = 0
        var finished = false
        var failure: (any Error)?
        var closed = false
        var taskWaiter: CheckedContinuation<Void, Never>?
        var threadWaiting = false
    }

    private let state = Mutex(State())
    private let threadWake = DispatchSemaphore(value: 0)
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The producer is done. With `failure`, the consumer gets it at once, before what is
    /// still queued: a transfer that failed is abandoned whole.
    func finish(failure: (any Error)? = nil) {
        change { state in
            state.finished = true
            if let failure, state.failure == nil { state.failure = failure }
        }
    }

    /// The consumer wants no more: queued chunks are dropped and the producer's puts fail.
    func close() {
        change { state in
            state.closed = true
            state.chunks.removeAll()
            state.buffered = 0
        }
    }

    // MARK: Producer

    /// Queues `chunk` from a task, waiting while the queue is full. False once the consumer closed.
    func put(_ chunk: [UInt8]) async -> Bool {
        while true {
            if let answer = tryPut(chunk) { return answer }
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if state.closed || state.buffered < capacity { return true }
                    state.taskWaiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// Queues `chunk` from the thread, blocking while the queue is full. False once the consumer closed.
    func putBlocking(_ chunk: [UInt8]) -> Bool {
        while true {
            if let answer = tryPut(chunk, threadWaits: true) { return answer }
            threadWake.wait()
        }
    }

    // MARK: Consumer

    /// The next chunk for a task; nil at the end. Cancelling the task closes the queue.
    func take() async throws -> [UInt8]? {
        try await withTaskCancellationHandler {
            while true {
                switch tryTake() {
                case .chunk(let chunk): return chunk
                case .end: return nil
                case .failed(let error): throw error
                case .empty:
                    await withCheckedContinuation { continuation in
                        let ready = state.withLock { state -> Bool in
                            if state.closed || state.finished || !state.chunks.isEmpty { return true }
                            state.taskWaiter = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                }
            }
        } onCancel: {
            close()
        }
    }

    /// The next chunk for the thread, blocking until there is one; nil at the end.
    func takeBlocking() throws -> [UInt8]? {
        while true {
            switch tryTake(threadWaits: true) {
            case .chunk(let chunk): return chunk
            case .end: return nil
            case .failed(let error): throw error
            case .empty: threadWake.wait()
            }
        }
    }

    // MARK: State

    private enum Taken { case chunk([UInt8]), end, failed(any Error), empty }

    private struct Closed: Error {}

    /// Nil when the caller must wait (then, for the thread, it is marked as waiting).
    private func tryPut(_ chunk: [UInt8], threadWaits: Bool = false) -> Bool? {
        var wake: (CheckedContinuation<Void, Never>?, Bool) = (nil, false)
        let answer = state.withLock { state -> Bool? in
            if state.closed { return false }
            guard state.buffered < capacity else {
                if threadWaits { state.threadWaiting = true }
                return nil
            }
            state.chunks.append(chunk)
            state.buffered += chunk.count
            wake = Self.wakers(&state)
            return true
        }
        wakeUp(wake)
        return answer
    }

    private func tryTake(threadWaits: Bool = false) -> Taken {
        var wake: (CheckedContinuation<Void, Never>?, Bool) = (nil, false)
        let taken = state.withLock { state -> Taken in
            if let failure = state.failure { return .failed(failure) }
            if state.closed { return .failed(Closed()) }
            guard let chunk = state.chunks.popFirst() else {
                if state.finished { return .end }
                if threadWaits { state.threadWaiting = true }
                return .empty
            }
            state.buffered -= chunk.count
            wake = Self.wakers(&state)
            return .chunk(chunk)
        }
        wakeUp(wake)
        return taken
    }

    private func change(_ body: (inout State) -> Void) {
        let wake = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            body(&state)
            return Self.wakers(&state)
        }
        wakeUp(wake)
    }

    /// Whoever waits is woken after any change; it looks again and waits again if it must.
    private static func wakers(_ state: inout State) -> (CheckedContinuation<Void, Never>?, Bool) {
        defer { state.taskWaiter = nil; state.threadWaiting = false }
        return (state.taskWaiter, state.threadWaiting)
    }

    private func wakeUp(_ wake: (CheckedContinuation<Void, Never>?, Bool)) {
        wake.0?.resume()
        if wake.1 { threadWake.signal() }
    }
}
