import CLibvirt

/// A libvirt data stream (`virStreamPtr`), freed when the last reference goes. Not `Sendable`:
/// one thread owns it, like its ``Connection``.
///
/// A non-blocking stream's reads and writes return at once; its data arrives through libvirt's
/// event loop (``EventLoop``), which must run.
public final class DataStream {
    let handle: virStreamPtr

    public init(connection: Connection, nonBlocking: Bool) throws {
        handle = try LibvirtError.call("virStreamNew") {
            virStreamNew(connection.handle, nonBlocking ? UInt32(VIR_STREAM_NONBLOCK.rawValue) : 0)
        }
    }

    deinit { virStreamFree(handle) }

    public enum Received {
        case bytes([UInt8])
        /// Nothing yet (a non-blocking stream).
        case wouldBlock
        /// The other end finished the stream.
        case end
    }

    /// Up to `max` bytes (`virStreamRecv`).
    public func receive(max: Int = 64 * 1024) throws -> Received {
        var count: Int? = 0
        // Received straight into an array's storage, with nothing to zero first; a short read is
        // copied into an array of its size, so a queue of small chunks holds no 64 KiB each.
        let buffer = try [UInt8](unsafeUninitializedCapacity: max) { raw, initialized in
            count = try receive(into: UnsafeMutableRawBufferPointer(raw))
            initialized = count ?? 0
        }
        switch count {
        case nil: return .wouldBlock
        case 0: return .end
        case let count?: return .bytes(count == max ? buffer : Array(buffer[..<count]))
        }
    }

    /// Up to `target.count` bytes (`virStreamRecv`) into memory the caller owns and reuses, so a
    /// bulk transfer neither allocates nor faults in fresh pages for every message: how many
    /// arrived, 0 at the end of the stream, nil when a non-blocking stream has nothing yet.
    public func receive(into target: UnsafeMutableRawBufferPointer) throws -> Int? {
        guard let base = target.baseAddress, !target.isEmpty else { return 0 }
        let count = virStreamRecv(handle, base.assumingMemoryBound(to: CChar.self), target.count)
        switch count {
        case -2: return nil
        case ..<0: throw LibvirtError.capture("virStreamRecv")
        default: return Int(count)
        }
    }

    /// Sends some of `bytes` (`virStreamSend`): how many, 0 when a non-blocking stream would block.
    public func send(_ bytes: ArraySlice<UInt8>) throws -> Int {
        let count = bytes.withUnsafeBytes { raw in
            virStreamSend(handle, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
        if count == -2 { return 0 }
        guard count >= 0 else { throw LibvirtError.capture("virStreamSend") }
        return Int(count)
    }

    /// Ends the stream early (`virStreamAbort`); errors are moot then.
    public func abort() { _ = virStreamAbort(handle) }
}

extension Domain {
    /// Connects `stream` to the domain's console (`virDomainOpenConsole`): `device` is its
    /// alias (`serial0`), nil for the first. Without `force` it fails while another session
    /// holds the console; with it, that session is ended.
    public func openConsole(device: String?, stream: DataStream, force: Bool) throws {
        let flags = UInt32(VIR_DOMAIN_CONSOLE_SAFE.rawValue) | (force ? UInt32(VIR_DOMAIN_CONSOLE_FORCE.rawValue) : 0)
        try LibvirtError.status("virDomainOpenConsole") { virDomainOpenConsole(handle, device, stream.handle, flags) }
    }
}
