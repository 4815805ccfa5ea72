import Libvirt
import Locking
#if canImport(Glibc)
import Glibc
#endif

/// A guest's VNC display (`virDomainOpenGraphicsFD`), given the Host: a socket straight to
/// QEMU's VNC server, whatever address the display listens on, with the display's own
/// password skipped (whoever opens it has passed the service's authentication).
public struct GraphicsConsole: Sendable {
    let host: Host

    public init(host: Host) { self.host = host }

    /// Opens the first VNC display of the running domain `reference` (UUID or name). One
    /// quick call on the Host's thread; the bytes then flow on the returned session's socket,
    /// never through the Host.
    public func openVNC(_ reference: String) async throws(ConsoleError) -> GraphicsConsoleSession {
        let opened: Result<Int32, ConsoleError>
        do {
            opened = try await host.run { host throws(HostError) -> Result<Int32, ConsoleError> in
                    try host.withDomain(reference) { domain -> Result<Int32, ConsoleError> in
                        guard domain.id() != nil else {
                            return .failure(.host(.invalidState(action: "open the display of", state: "shut off")))
                        }
                        let root = try XMLTree(try domain.xml(), root: "domain").root
                        let graphics = root.child("devices")?.children("graphics") ?? []
                        guard let index = graphics.firstIndex(where: { $0.attribute("type") == "vnc" }) else {
                            return .failure(.noSuchDevice("vnc"))
                        }
                        return .success(try Self.connect(domain, index: UInt32(index)))
                    }
            }
        } catch {
            throw ConsoleError.host(error)
        }
        return GraphicsConsoleSession(descriptor: try opened.get())
    }

    /// QEMU writes a framebuffer update into its end of the socket as fast as the socket takes
    /// it; a default Unix socket holds 208 KiB, so an 8 MiB update would need some forty
    /// wake-ups of QEMU and of the relay (it was 2.5 times slower). The service makes the socket
    /// pair itself and gives QEMU's end a send buffer of ``displaySendBuffer`` (forced where the
    /// service may, else as much as `net.core.wmem_max` allows), then hands that end over with
    /// `virDomainOpenGraphics`.
    static func connect(_ domain: Domain, index: UInt32) throws -> Int32 {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            // No socket pair (out of descriptors): let libvirt make one, with its default buffer.
            return try domain.openGraphicsDescriptor(index: index, skipAuthentication: true)
        }
        defer { Glibc.close(ends[1]) }
        var size = displaySendBuffer
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(ends[1], SOL_SOCKET, SO_SNDBUFFORCE, &size, length) != 0 {
            _ = setsockopt(ends[1], SOL_SOCKET, SO_SNDBUF, &size, length)
        }
        do {
            try domain.openGraphics(index: index, descriptor: ends[1], skipAuthentication: true)
        } catch {
            Glibc.close(ends[0])
            throw error
        }
        return ends[0]
    }

    /// The send buffer asked for QEMU's end of a display's socket: a 1920×1080 update at 32 bits.
    static let displaySendBuffer: Int32 = 8 << 20
}

/// An open VNC connection: the RFB bytes both ways, unchanged. Reads, and writes while QEMU
/// reads slowly, wait on the process's one poll thread (``DescriptorReadiness``), so an open
/// display holds no thread, and nothing waits on Swift's cooperative pool or the Host's
/// thread. The descriptor is closed when the session goes.
public final class GraphicsConsoleSession: Sendable {
    let descriptor: Int32
    /// Sends run one after another, so concurrent writers never interleave their bytes.
    private let writer: DescriptorWriter

    init(descriptor: Int32) {
        self.descriptor = descriptor
        self.writer = DescriptorWriter(descriptor: descriptor)
        // Non-blocking, so a read waits in poll(2), where shutdown(2) can wake it.
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    deinit { Glibc.close(descriptor) }

    /// Up to `max` bytes; empty once the display's end closed (the domain stopped) or after ``close()``.
    public func receive(max: Int = 64 * 1024) async -> [UInt8] {
        await DescriptorReadiness.shared.receive(descriptor, max: max) ?? []
    }

    /// Sends all of `bytes`; false when the display's end is gone.
    public func send(_ bytes: [UInt8]) async -> Bool { await writer.send(bytes) }

    /// Ends the connection both ways: a pending ``receive(max:)`` returns empty. The
    /// descriptor itself is closed only when the session goes, so no other file can take its
    /// number while a read still polls it.
    public func close() { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }
}
