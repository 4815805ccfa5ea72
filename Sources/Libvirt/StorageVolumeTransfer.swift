import CLibvirt

/// A volume's content through a blocking ``DataStream``: `virStorageVolUpload` /
/// `virStorageVolDownload`, then the stream's own sends and receives. Every call blocks
/// until libvirtd has taken or given the bytes, so the caller runs them on a thread of its own.
extension StorageVolume {
    /// Connects `stream` to the volume for writing `length` bytes from `offset` (0: to the end
    /// of the stream). With `sparse`, the stream may carry holes (``DataStream/sendHole(_:)``).
    public func upload(into stream: DataStream, offset: UInt64 = 0, length: UInt64 = 0, sparse: Bool) throws {
        let flags = sparse ? UInt32(VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM.rawValue) : 0
        try LibvirtError.status("virStorageVolUpload") {
            virStorageVolUpload(handle, stream.handle, offset, length, flags)
        }
    }

    /// Connects `stream` to the volume for reading `length` bytes from `offset` (0: to its end).
    /// Holes arrive as zeros.
    public func download(into stream: DataStream, offset: UInt64 = 0, length: UInt64 = 0) throws {
        try LibvirtError.status("virStorageVolDownload") {
            virStorageVolDownload(handle, stream.handle, offset, length, 0)
        }
    }
}

extension DataStream {
    /// Sends all of `bytes`, blocking until libvirt took them (`virStreamSend` in a loop).
    public func sendAll(_ bytes: UnsafeRawBufferPointer) throws {
        var sent = 0
        while sent < bytes.count {
            let count = virStreamSend(handle, bytes.baseAddress!.advanced(by: sent).assumingMemoryBound(to: CChar.self),
                                      bytes.count - sent)
            guard count > 0 else { throw LibvirtError.capture("virStreamSend") }
            sent += Int(count)
        }
    }

    /// A run of `length` zero bytes that is not sent as data (`virStreamSendHole`); the stream
    /// must have been opened sparse.
    public func sendHole(_ length: Int64) throws {
        try LibvirtError.status("virStreamSendHole") { virStreamSendHole(handle, length, 0) }
    }

    /// Up to `buffer.count` bytes into `buffer`, blocking until some arrive: how many, 0 at the
    /// end of the stream (`virStreamRecv`).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = virStreamRecv(handle, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
        guard count >= 0 else { throw LibvirtError.capture("virStreamRecv") }
        return Int(count)
    }

    /// Ends a stream that carried everything (`virStreamFinish`): libvirtd reports here whether
    /// the whole transfer succeeded.
    public func finish() throws {
        try LibvirtError.status("virStreamFinish") { virStreamFinish(handle) }
    }
}

extension StorageVolume {
    /// The bytes the volume takes where it is stored (a qcow2 file's size, not its virtual
    /// capacity): what a download of the whole volume carries (`VIR_STORAGE_VOL_GET_PHYSICAL`).
    public func physicalSize() throws -> UInt64 {
        var info = virStorageVolInfo()
        try LibvirtError.status("virStorageVolGetInfoFlags") {
            virStorageVolGetInfoFlags(handle, &info, UInt32(VIR_STORAGE_VOL_GET_PHYSICAL.rawValue))
        }
        return UInt64(info.allocation)
    }
}
