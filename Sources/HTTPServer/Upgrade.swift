import CMicroHTTPD
import Locking
#if canImport(Glibc)
import Glibc
#endif

/// What runs on a connection after a `101 Switching Protocols` answer (``Response/upgrade(headers:_:)``),
/// e.g. a WebSocket console. It owns the byte stream until it returns; the server then
/// closes the connection.
public typealias UpgradeHandler = @Sendable (UpgradedConnection) async -> Void

/// A connection handed over from HTTP to another protocol. A read waits for data on the
/// process's one poll thread (``DescriptorReadiness``), so an idle connection holds no thread;
/// writes are non-blocking, and a write to a peer that reads slowly waits on that thread too.
public final class UpgradedConnection: Sendable {
    /// Bytes the client sent after its request head, before the switch: read these first.
    public let initialBytes: [UInt8]
    let descriptor: Int32
    private struct State {
        /// libmicrohttpd's handle for the close; nil once closed.
        var handle: UInt?
    }
    private let state: Mutex<State>
    /// Sends run one after another, so frames written by different tasks never interleave.
    private let writer: DescriptorWriter

    init(descriptor: Int32, initialBytes: [UInt8], handle: OpaquePointer) {
        self.descriptor = descriptor
        self.writer = DescriptorWriter(descriptor: descriptor)
        self.initialBytes = initialBytes
        self.state = Mutex(State(handle: UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))))
        // Each message goes out as soon as it is written. libmicrohttpd may leave the socket
        // corked or with Nagle's algorithm on; then the tail of a large message waited for the
        // peer's delayed acknowledgement, 40 ms, in one VNC update of ten. (Not TCP on a Unix
        // socket: both calls then fail, harmlessly.)
        var on: Int32 = 1, off: Int32 = 0
        let length = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_CORK, &off, length)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, length)
    }

    /// Up to `max` bytes; empty at the end of the stream (or after ``shutdown()``), or when
    /// nothing arrived within `timeoutMilliseconds` (when given).
    public func receive(max: Int = 64 * 1024, timeoutMilliseconds: Int32 = -1) async -> [UInt8] {
        await receiveUnlessQuiet(max: max, timeoutMilliseconds: timeoutMilliseconds) ?? []
    }

    /// Up to `max` bytes; empty at the end of the stream (or after ``shutdown()``); nil when
    /// nothing arrived within `timeoutMilliseconds` and the stream is still open.
    public func receiveUnlessQuiet(max: Int = 64 * 1024, timeoutMilliseconds: Int32) async -> [UInt8]? {
        await DescriptorReadiness.shared.receive(descriptor, max: max, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Sends all of `bytes`; false when the peer is gone.
    public func send(_ bytes: [UInt8]) async -> Bool { await writer.send(bytes) }

    /// Sends all of `head`, then all of `body`, without joining them first; false when the peer is gone.
    public func send(_ head: [UInt8], _ body: [UInt8]) async -> Bool { await writer.send(head, body) }

    /// Wakes a pending ``receive(max:timeoutMilliseconds:)`` with the end of the stream (the server's shutdown).
    public func shutdown() { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }

    /// Ends the sending side only (a TCP FIN after what was sent), so the peer reads all of it
    /// and then the end; reading continues.
    public func shutdownSending() async {
        await writer.afterQueuedSends { _ = Glibc.shutdown(descriptor, Int32(SHUT_WR)) }
    }

    /// Gives the connection back to libmicrohttpd to close; once.
    func close() {
        guard let address = state.withLock({ state -> UInt? in defer { state.handle = nil }; return state.handle }),
              let handle = OpaquePointer(bitPattern: address) else { return }
        _ = virthost_upgrade_close(handle)
    }
}

/// The upgrade handler and the server, carried through libmicrohttpd's upgrade callback.
final class UpgradeContext: Sendable {
    let handler: UpgradeHandler
    let server: HTTPServer
    init(handler: @escaping UpgradeHandler, server: HTTPServer) {
        self.handler = handler
        self.server = server
    }
}
