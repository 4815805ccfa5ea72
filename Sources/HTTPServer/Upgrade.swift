import CMicroHTTPD
import Dispatch
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
/// writes, which block only while the peer reads slowly, run on Dispatch's threads, never on
/// Swift's cooperative pool.
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
        self.writer = DescriptorWriter(descriptor: descriptor, label: "virthost.upgraded.write")
        self.initialBytes = initialBytes
        self.state = Mutex(State(handle: UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))))
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

    /// Wakes a pending ``receive(max:timeoutMilliseconds:)`` with the end of the stream (the server's shutdown).
    public func shutdown() { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }

    /// Ends the sending side only (a TCP FIN after what was sent), so the peer reads all of it
    /// and then the end; reading continues.
    public func shutdownSending() {
        writer.afterQueuedSends { _ = Glibc.shutdown(descriptor, Int32(SHUT_WR)) }
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
