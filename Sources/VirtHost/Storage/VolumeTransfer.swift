import GuestConfig
import Libvirt
import Locking
import Logging

/// A volume's content in and out (`virStorageVolUpload` / `virStorageVolDownload`), streamed.
///
/// The bytes move on a connection of their own (``Host/withDedicatedConnection(threadName:_:)``),
/// on a thread that blocks in the libvirt stream. An upload's thread reads the body itself (an
/// ``UploadSource``, which blocks it while the body is behind); a download's thread writes into
/// the response (a ``DownloadSink``, which blocks it while the client is behind). Either way a
/// slow client slows libvirt and a slow libvirt slows the client, and memory stays a few MiB
/// whatever the size. The Host's own thread only does the short turns before and after.
///
/// An upload goes to a staging volume first and is renamed into place only when complete and
/// checked: a failed or cut-off upload leaves nothing under the name a caller asked for, and an
/// overwritten volume keeps its old content until the new one is whole.
public struct VolumeTransfer: Sendable {
    public let host: Host

    public init(host: Host) { self.host = host }

    /// What an upload declares its content to be.
    public enum Format: String, Sendable, CaseIterable {
        case raw, qcow2, iso

        /// The formats libvirt may find in such content (it probes a file's header): an ISO
        /// image is raw data too.
        var acceptedProbes: Set<String> {
            switch self {
            case .raw: ["raw", "iso"]
            case .qcow2: ["qcow2"]
            case .iso: ["iso"]
            }
        }
    }

    /// Progress is logged each time this much more has moved.
    static let progressStep: UInt64 = 256 << 20

    // MARK: Upload

    /// Streams `body` into the volume `pool/volume`. A missing volume is created, sized to
    /// `length` (the body's `Content-Length`) or, when the length is not known in advance, to
    /// whatever arrived; an existing one is replaced only with `overwrite` and while nothing
    /// uses it. Runs of zeros go as holes, so sparse images stay sparse. Whatever fails, the
    /// staging volume is removed and the named volume is as it was.
    public func upload(pool: String, volume: String, format: Format, overwrite: Bool, length: UInt64?,
                       body: some UploadSource) async throws -> StorageVolumeDetails {
        let staging = ".upload-" + String(UInt64.random(in: .min ... .max), radix: 16)
        let xml = Element("volume") {
            Element("name", text: staging)
            Element("capacity", [("unit", "bytes")], text: String(length ?? 0))
            Element("allocation", [("unit", "bytes")], text: "0")
            Element("target") { Element("format", [("type", format == .iso ? "iso" : "raw")]) }
        }.serialized()
        try await host.stageUpload(pool: pool, volume: volume, overwrite: overwrite, staging: staging, xml: xml).get()
        do {
            let started = ContinuousClock.now
            let moved = try await send(body, to: pool, staging: staging, label: "\(pool)/\(volume)")
            if let length, moved.total != length {
                throw VolumeTransferError.shortBody(expected: length, received: moved.total)
            }
            let staged = try await host.inspectStaged(pool: pool, staging: staging).get()
            let found = staged.format ?? "unknown"
            guard format.acceptedProbes.contains(found) else {
                throw VolumeTransferError.formatMismatch(declared: format.rawValue, found: found)
            }
            // An image naming a backing file would give a guest that file's data (any file on
            // the host): uploaded images must stand alone.
            if let backing = staged.backing { throw VolumeTransferError.backingFileRefused(path: backing.path) }
            let placed = try await host.commitUpload(pool: pool, volume: volume, overwrite: overwrite, staging: staging).get()
            let seconds = (ContinuousClock.now - started).seconds
            host.logger.info("volume uploaded", metadata: [
                "volume": "\(pool)/\(volume)", "bytes": "\(moved.total)", "hole_bytes": "\(moved.holes)",
                "seconds": "\(seconds)", "mib_per_s": "\(Self.rate(moved.total, seconds))",
            ])
            return placed
        } catch {
            if await !host.discardStaged(pool: pool, staging: staging) {
                host.logger.error("staging volume of a failed upload could not be removed",
                                  metadata: ["volume": "\(pool)/\(staging)"])
            }
            host.logger.warning("volume upload failed", metadata: ["volume": "\(pool)/\(volume)", "error": "\(error)"])
            throw error
        }
    }

    /// Feeds `body` to a libvirt stream on a dedicated connection; returns the bytes moved.
    private func send(_ body: some UploadSource, to pool: String, staging: String, label: String)
        async throws -> SparseSender.Totals {
        let logger = host.logger
        let drained = try await host.withDedicatedConnection(threadName: "virthost-upload") { connection in
            try Self.drain(body, into: connection, pool: pool, staging: staging, label: label, logger: logger)
        }
        switch drained {
        case .done(let totals): return totals
        case .bodyFailed(let error): throw error
        }
    }

    /// How a drain ended: the body's own failure (the client gone, the body too large) is the
    /// caller's to report as it is, not as libvirt's.
    private enum Drained: Sendable {
        case done(SparseSender.Totals)
        case bodyFailed(any Error)
    }

    /// On the dedicated thread: the body's pieces, as they arrive, into the staging volume,
    /// zeros as holes. When the body fails, libvirt's stream is aborted.
    private static func drain(_ body: some UploadSource, into connection: Connection, pool: String, staging: String,
                              label: String, logger: Logger) throws -> Drained {
        guard let found = try connection.lookupStoragePool(name: pool)?.lookupVolume(name: staging) else {
            throw StorageError.volumeNotFound(pool: pool, volume: staging)
        }
        let stream = try DataStream(connection: connection, nonBlocking: false)
        try found.upload(into: stream, sparse: true)
        var sender = SparseSender(stream: stream)
        var progress = Progress(label: label, direction: "upload", logger: logger)
        do {
            while true {
                let next: [UInt8]?
                do {
                    next = try body.nextBlocking()
                } catch {
                    stream.abort()
                    return .bodyFailed(error)
                }
                guard let piece = next else { break }
                try sender.write(piece)
                body.recycle(consume piece)
                progress.advance(to: sender.totals.total)
            }
            try sender.flush()
            try stream.finish()
            return .done(sender.totals)
        } catch {
            stream.abort()
            throw error
        }
    }

    // MARK: Download

    /// The bytes a download of the whole volume carries (its stored size).
    public func size(pool: String, volume: String) async throws -> UInt64 {
        try await host.downloadableSize(pool: pool, volume: volume).get()
    }

    /// `length` bytes of the volume from `offset` (within ``size(pool:volume:)``), read only
    /// when ``VolumeDownload/run(into:)`` is called, and only as fast as the sink takes them.
    public func download(pool: String, volume: String, offset: UInt64, length: UInt64) -> VolumeDownload {
        VolumeDownload(host: host, pool: pool, volume: volume, offset: offset, length: length)
    }

    static func rate(_ bytes: UInt64, _ seconds: Double) -> Int {
        seconds > 0 ? Int(Double(bytes) / 1_048_576 / seconds) : 0
    }
}

/// Where a download's thread puts the volume's bytes (the response being sent).
public protocol DownloadSink: Sendable {
    /// Queues `piece` for the client, blocking while the client is far behind; false once the
    /// client is gone (the download then stops).
    func writeBlocking(_ piece: [UInt8]) -> Bool
    /// A piece the client has been sent, given back to be filled again (nil when there is
    /// none): a download reuses its pieces instead of allocating one per message.
    func spare() -> [UInt8]?
}

/// A range of a volume's bytes; see ``VolumeTransfer/download(pool:volume:offset:length:)``.
public struct VolumeDownload: Sendable {
    let host: Host
    let pool: String
    let volume: String
    let offset: UInt64
    let length: UInt64

    /// Bytes a download may be ahead of its client: what libvirt's thread can read on while the
    /// response goes out.
    public static let highWater = 4 << 20
    /// The size of libvirt's reads, the largest piece its messages carry (256 KiB).
    static let piece = 256 * 1024

    /// Reads the range into `sink` on a dedicated connection's thread, until all of it went or
    /// the client left. Throws what failed on libvirt's side (the response is then cut short).
    public func run(into sink: some DownloadSink) async throws {
        do {
            try await host.withDedicatedConnection(threadName: "virthost-download") { connection in
                try fill(sink, from: connection)
            }
        } catch {
            host.logger.warning("volume download failed", metadata: ["volume": "\(pool)/\(volume)", "error": "\(error)"])
            throw error
        }
    }

    /// libvirt's client reads a stream's data off the socket as it arrives (the process runs
    /// libvirt's event loop) and queues it without limit, whether or not anyone receives it: a
    /// download of the whole volume into a stalled reader would end up in this process's
    /// memory. So the volume is asked for in segments, one at a time, the next only when the
    /// last was received: at most one segment waits in libvirt, besides the sink.
    static let segment: UInt64 = 16 << 20

    /// On the dedicated thread: the volume's bytes, segment by segment, received straight into
    /// the pieces the sink queues (reused once sent), until `length` arrived or the client left.
    private func fill(_ sink: some DownloadSink, from connection: Connection) throws {
        guard let found = try connection.lookupStoragePool(name: pool)?.lookupVolume(name: volume) else {
            throw StorageError.volumeNotFound(pool: pool, volume: volume)
        }
        var progress = Progress(label: "\(pool)/\(volume)", direction: "download", logger: host.logger)
        var received: UInt64 = 0
        while received < length {
            let wanted = min(Self.segment, length - received)
            let stream = try DataStream(connection: connection, nonBlocking: false)
            try found.download(into: stream, offset: offset + received, length: wanted)
            var got: UInt64 = 0
            do {
                // Each piece is filled whole (libvirt's messages may be smaller) before it goes,
                // so the sink's queue holds full pieces and the client's side wakes once a piece.
                while got < wanted {
                    let size = Int(min(UInt64(Self.piece), wanted - got))
                    var piece = sink.spare() ?? []
                    if piece.count != size { piece = [UInt8](repeating: 0, count: size) }
                    var filled = 0
                    while filled < size {
                        let count: Int? = try piece.withUnsafeMutableBytes { bytes in
                            try stream.receive(into: UnsafeMutableRawBufferPointer(rebasing: bytes[filled...]))
                        }
                        guard let count, count > 0 else { break }
                        filled += count
                    }
                    if filled < size { piece.removeLast(size - filled) }
                    got += UInt64(filled)
                    guard filled > 0 else { break }
                    guard sink.writeBlocking(piece) else {
                        stream.abort()
                        host.logger.info("volume download stopped by the client", metadata: [
                            "volume": "\(progress.label)", "bytes": "\(received + got)",
                        ])
                        return
                    }
                    progress.advance(to: received + got)
                    guard filled == size else { break }
                }
                guard got == wanted else {
                    throw VolumeTransferError.shortVolume(expected: length, received: received + got)
                }
                try stream.finish()
            } catch {
                stream.abort()
                throw error
            }
            received += got
        }
        progress.done(received)
    }
}

/// Logs a transfer's progress every ``VolumeTransfer/progressStep`` bytes, with its rate.
struct Progress {
    let label: String
    let direction: String
    let logger: Logger
    let started = ContinuousClock.now
    var next = VolumeTransfer.progressStep

    init(label: String, direction: String, logger: Logger) {
        self.label = label
        self.direction = direction
        self.logger = logger
    }

    mutating func advance(to bytes: UInt64) {
        guard bytes >= next else { return }
        next = bytes + VolumeTransfer.progressStep
        let seconds = (ContinuousClock.now - started).seconds
        logger.info("volume \(direction) progress", metadata: [
            "volume": "\(label)", "bytes": "\(bytes)", "mib_per_s": "\(VolumeTransfer.rate(bytes, seconds))",
        ])
    }

    func done(_ bytes: UInt64) {
        let seconds = (ContinuousClock.now - started).seconds
        logger.info("volume \(direction) complete", metadata: [
            "volume": "\(label)", "bytes": "\(bytes)", "seconds": "\(seconds)",
            "mib_per_s": "\(VolumeTransfer.rate(bytes, seconds))",
        ])
    }
}

/// Why an upload or download could not be done, besides libvirt's own errors.
public enum VolumeTransferError: Error, Sendable, CustomStringConvertible {
    /// libvirt found another format in the content than the upload declared.
    case formatMismatch(declared: String, found: String)
    /// The uploaded image names a backing file.
    case backingFileRefused(path: String)
    /// Fewer bytes arrived than `Content-Length` announced.
    case shortBody(expected: UInt64, received: UInt64)
    /// The volume ended before the range did (it shrank meanwhile).
    case shortVolume(expected: UInt64, received: UInt64)

    public var description: String {
        switch self {
        case .formatMismatch(let declared, let found):
            "the upload was declared \(declared) but libvirt finds \(found) content"
        case .backingFileRefused(let path):
            "the uploaded image names a backing file (\(path)); uploaded images must stand alone"
        case .shortBody(let expected, let received): "the body had \(received) of \(expected) bytes"
        case .shortVolume(let expected, let received): "the volume ended after \(received) of \(expected) bytes"
        }
    }
}

fileprivate extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
