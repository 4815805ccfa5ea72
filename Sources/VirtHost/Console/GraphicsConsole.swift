import Dispatch
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
                        return .success(try domain.openGraphicsDescriptor(index: UInt32(index), skipAuthentication: true))
                    }
            }
        } catch {
            throw ConsoleError.host(error)
        }
        return GraphicsConsoleSession(descriptor: try opened.get())
    }
}

/// An open VNC connection: the RFB bytes both ways, unchanged. A read waits on the process's
/// one poll thread (``DescriptorReadiness``), so an idle display holds no thread; writes, which
/// block only while QEMU reads slowly, run on Dispatch's threads, never on Swift's cooperative
/// pool or the Host's thread. The descriptor is closed when the session goes.
public final class GraphicsConsoleSession: Sendable {
    let descriptor: Int32
    /// Sends run one after another, so concurrent writers never interleave their bytes.
    private let writer: DescriptorWriter

    init(descriptor: Int32) {
        self.descriptor = descriptor
        self.writer = DescriptorWriter(descriptor: descriptor, label: "virthost.graphics.write")
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
