import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Writes to a non-blocking socket in order, on a Dispatch queue of its own: bytes sent by
/// different tasks never interleave, and a peer that reads slowly holds a Dispatch thread
/// (waiting in poll(2) for room), never Swift's cooperative pool. The writing side of
/// ``DescriptorReadiness``, shared by the HTTP server's upgraded connections and the VNC relay.
public final class DescriptorWriter: Sendable {
    private let descriptor: Int32
    private let queue: DispatchQueue

    public init(descriptor: Int32, label: String) {
        self.descriptor = descriptor
        self.queue = DispatchQueue(label: label)
    }

    /// Sends all of `bytes`; false when the peer is gone.
    public func send(_ bytes: [UInt8]) async -> Bool {
        let descriptor = descriptor
        return await withCheckedContinuation { continuation in
            queue.async {
                var sent = 0
                while sent < bytes.count {
                    let count = bytes[sent...].withUnsafeBytes {
                        Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    }
                    if count < 0 && errno == EINTR { continue }
                    if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                        var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&entry, 1, -1)
                        continue
                    }
                    guard count > 0 else { continuation.resume(returning: false); return }
                    sent += count
                }
                continuation.resume(returning: true)
            }
        }
    }

    /// Runs `body` once every send queued before it has finished (e.g. to end the sending side
    /// after the last bytes).
    public func afterQueuedSends<T>(_ body: () -> T) -> T { queue.sync(execute: body) }
}
