import Locking

/// The bytes of an upload, as the thread that feeds them to libvirt reads them: a read may
/// block (that thread is the upload's own), so the bytes go from where they arrive to libvirt
/// without a hop through Swift's cooperative pool.
public protocol UploadSource: Sendable {
    /// The next piece, blocking until it is there; nil at the end. Throws what ended the
    /// bytes early (the client went away, the body was too large).
    func nextBlocking() throws -> [UInt8]?
    /// Takes back a piece the upload is done with, to fill it again (or drops it).
    func recycle(_ piece: consuming [UInt8])
}

/// Bytes already in memory (a first-boot disk's image), as one piece.
public final class UploadBytes: UploadSource {
    private let bytes: Mutex<[UInt8]?>

    public init(_ bytes: [UInt8]) { self.bytes = Mutex(bytes) }

    public func nextBlocking() -> [UInt8]? { bytes.withLock { bytes in defer { bytes = nil }; return bytes } }

    public func recycle(_ piece: consuming [UInt8]) {}
}
