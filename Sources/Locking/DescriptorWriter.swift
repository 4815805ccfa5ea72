#if canImport(Glibc)
import Glibc
#endif

/// Writes to a non-blocking socket in order: bytes sent by different tasks never interleave
/// (one send at a time, the others queued first come, first served). Each write is a
/// non-blocking send(2) made by the sending task itself; when the socket is full (a peer that
/// reads slowly) the task waits on ``DescriptorReadiness``'s one poll thread, so a slow peer
/// holds no thread, and its sender is slowed instead of buffering. Shared by the HTTP server's
/// upgraded connections and the VNC relay.
public final class DescriptorWriter: Sendable {
    private let descriptor: Int32
    private struct State {
        var sending = false
        /// Sends waiting for the one in progress, in arrival order.
        var queued: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Sends all of `bytes`; false when the peer is gone.
    public func send(_ bytes: [UInt8]) async -> Bool { await send(bytes, []) }

    /// Sends all of `head` and then all of `body` as one write where the socket takes it
    /// (sendmsg(2) with two vectors), so a frame's header is never copied before its payload;
    /// false when the peer is gone.
    public func send(_ head: [UInt8], _ body: [UInt8]) async -> Bool {
        await acquire()
        defer { release() }
        var sent = 0
        let total = head.count + body.count
        while sent < total {
            let count = Self.sendNow(descriptor, head, body, from: sent)
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                await DescriptorReadiness.shared.writable(descriptor)
                continue
            }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }

    /// One non-blocking sendmsg(2) of what is left of `head` and `body` after `offset` bytes.
    private static func sendNow(_ descriptor: Int32, _ head: [UInt8], _ body: [UInt8], from offset: Int) -> Int {
        head.withUnsafeBytes { head in
            body.withUnsafeBytes { body in
                var vectors: [iovec] = []
                for (part, start) in [(head, offset), (body, offset - head.count)] where start < part.count {
                    guard let base = part.baseAddress else { continue }
                    let from = Swift.max(start, 0)
                    vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: base + from), iov_len: part.count - from))
                }
                return vectors.withUnsafeMutableBufferPointer { vectors in
                    var message = msghdr()
                    message.msg_iov = vectors.baseAddress
                    message.msg_iovlen = vectors.count
                    return sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                }
            }
        }
    }

    /// Runs `body` once every send queued before it has finished (e.g. to end the sending side
    /// after the last bytes).
    public func afterQueuedSends<T>(_ body: () -> T) async -> T {
        await acquire()
        defer { release() }
        return body()
    }

    private func acquire() async {
        guard !takeTurn(orQueue: nil) else { return }
        await withCheckedContinuation { continuation in
            // The sender may have finished meanwhile: then the turn is this one's at once.
            if takeTurn(orQueue: continuation) { continuation.resume() }
        }
    }

    /// Takes the turn when it is free; else queues `continuation`, when given, for it.
    private func takeTurn(orQueue continuation: CheckedContinuation<Void, Never>?) -> Bool {
        state.withLock { state in
            guard state.sending else {
                state.sending = true
                return true
            }
            if let continuation { state.queued.append(continuation) }
            return false
        }
    }

    /// Hands the turn to the first queued send, or frees it.
    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.queued.isEmpty else {
                state.sending = false
                return nil
            }
            return state.queued.removeFirst()
        }
        next?.resume()
    }
}
