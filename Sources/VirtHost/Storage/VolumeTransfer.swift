import GuestConfig
import Libvirt
import Locking
import Logging

/// A volume's content in and out (`virStorageVolUpload` / `virStorageVolDownload`), streamed.
///
/// The bytes move on a connection of their own (``Host/withDedicatedConnection(threadName:_:)``),
/// on a thread that blocks in the libvirt stream; a bounded ``TransferQueue`` joins it to the
/// HTTP body, so a slow client slows libvirt and a slow libvirt slows the client, and memory
/// stays a few MiB whatever the size. The Host's own thread only does the short turns before
/// and after.
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

    /// How much of the body may wait between the HTTP side and libvirt.
    static let queueCapacity = 8 << 20
    /// The size of the pieces an upload's body is handed to libvirt's thread in.
    static let batch = 512 * 1024
    /// Progress is logged each time this much more has moved.
    static let progressStep: UInt64 = 256 << 20

    // MARK: Upload

    /// Streams `body` into the volume `pool/volume`. A missing volume is created, sized to
    /// `length` (the body's `Content-Length`) or, when the length is not known in advance, to
    /// whatever arrived; an existing one is replaced only with `overwrite` and while nothing
    /// uses it. Runs of zeros go as holes, so sparse images stay sparse. Whatever fails, the
    /// staging volume is removed and the named volume is as it was.
    public func upload<Body: AsyncSequence & Sendable>(
        pool: String, volume: String, format: Format, overwrite: Bool, length: UInt64?, body: Body
    ) async throws -> StorageVolumeDetails where Body.Element == [UInt8] {
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
    private func send<Body: AsyncSequence & Sendable>(_ body: Body, to pool: String, staging: String, label: String)
        async throws -> SparseSender.Totals where Body.Element == [UInt8] {
        let queue = TransferQueue(capacity: Self.queueCapacity)
        let logger = host.logger
        let job = Task { [host] in
            try await host.withDedicatedConnection(threadName: "virthost-upload") { connection in
                try Self.drain(queue, into: connection, pool: pool, staging: staging, label: label, logger: logger)
            }
        }
        var bodyFailure: (any Error)?
        do {
            // The server hands the body over in pieces of its connection buffer (16 KiB):
            // gathered into batches, the thread is woken once per batch, not per piece.
            var batch: [UInt8] = []
            batch.reserveCapacity(Self.batch)
            var open = true
            for try await chunk in body where !chunk.isEmpty {
                batch += chunk
                guard batch.count >= Self.batch else { continue }
                open = await queue.put(batch)
                guard open else { break }
                batch = []
                batch.reserveCapacity(Self.batch)
            }
            if open, !batch.isEmpty { _ = await queue.put(batch) }
            queue.finish()
        } catch {
            bodyFailure = error
            queue.finish(failure: error)
        }
        let outcome = await job.result
        // The client's failure (gone, body too large) explains the libvirt side's abort.
        if let bodyFailure { throw bodyFailure }
        return try outcome.get()
    }

    /// On the dedicated thread: the queue's chunks into the staging volume, zeros as holes.
    private static func drain(_ queue: TransferQueue, into connection: Connection, pool: String, staging: String,
                              label: String, logger: Logger) throws -> SparseSender.Totals {
        let stream: DataStream
        do {
            guard let found = try connection.lookupStoragePool(name: pool)?.lookupVolume(name: staging) else {
                throw StorageError.volumeNotFound(pool: pool, volume: staging)
            }
            stream = try DataStream(connection: connection, nonBlocking: false)
            try found.upload(into: stream, sparse: true)
        } catch {
            queue.close()
            throw error
        }
        var sender = SparseSender(stream: stream)
        var progress = Progress(label: label, direction: "upload", logger: logger)
        do {
            while let chunk = try queue.takeBlocking() {
                try sender.write(chunk)
                progress.advance(to: sender.totals.total)
            }
            try sender.flush()
            try stream.finish()
            return sender.totals
        } catch {
            stream.abort()
            queue.close()
            throw error
        }
    }

    // MARK: Download

    /// The bytes a download of the whole volume carries (its stored size).
    public func size(pool: String, volume: String) async throws -> UInt64 {
        try await host.downloadableSize(pool: pool, volume: volume).get()
    }

    /// `length` bytes of the volume from `offset` (within ``size(pool:volume:)``), read only
    /// while the sequence is iterated: libvirt is not asked until the first chunk is wanted,
    /// and stops when the iteration does.
    public func download(pool: String, volume: String, offset: UInt64, length: UInt64) -> VolumeDownload {
        VolumeDownload(host: host, pool: pool, volume: volume, offset: offset, length: length)
    }

    static func rate(_ bytes: UInt64, _ seconds: Double) -> Int {
        seconds > 0 ? Int(Double(bytes) / 1_048_576 / seconds) : 0
    }
}

/// A download's chunks; see ``VolumeTransfer/download(pool:volume:offset:length:)``.
public struct VolumeDownload: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let host: Host
    let pool: String
    let volume: String
    let offset: UInt64
    let length: UInt64

    public struct AsyncIterator: AsyncIteratorProtocol {
        let run: DownloadRun
        public mutating func next() async throws -> [UInt8]? { try await run.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(run: DownloadRun(self)) }
}

/// One iteration of a ``VolumeDownload``: starts the libvirt side on the first `next()`, and
/// stops it when the iteration is dropped (the client went away).
final class DownloadRun: Sendable {
    private let download: VolumeDownload
    private let queue = TransferQueue(capacity: VolumeTransfer.queueCapacity)
    private let started = Mutex(false)

    init(_ download: VolumeDownload) { self.download = download }

    deinit { queue.close() }

    func next() async throws -> [UInt8]? {
        if !started.withLock({ state in defer { state = true }; return state }) { start() }
        return try await queue.take()
    }

    private func start() {
        let (queue, download) = (queue, download)
        let logger = download.host.logger
        Task {
            do {
                try await download.host.withDedicatedConnection(threadName: "virthost-download") { connection in
                    try Self.fill(queue, from: connection, download, logger: logger)
                }
                queue.finish()
            } catch {
                logger.warning("volume download failed", metadata: [
                    "volume": "\(download.pool)/\(download.volume)", "error": "\(error)",
                ])
                queue.finish(failure: error)
            }
        }
    }

    /// libvirt's client reads a stream's data off the socket as it arrives (the process runs
    /// libvirt's event loop) and queues it without limit, whether or not anyone receives it: a
    /// download of the whole volume into a stalled reader would end up in this process's
    /// memory. So the volume is asked for in segments, one at a time, the next only when the
    /// last was received: at most one segment waits in libvirt, besides the queue.
    static let segment: UInt64 = 16 << 20

    /// On the dedicated thread: the volume's bytes, segment by segment, into the queue until
    /// `length` arrived or the reader left.
    private static func fill(_ queue: TransferQueue, from connection: Connection, _ download: VolumeDownload,
                             logger: Logger) throws {
        guard let found = try connection.lookupStoragePool(name: download.pool)?.lookupVolume(name: download.volume) else {
            throw StorageError.volumeNotFound(pool: download.pool, volume: download.volume)
        }
        var progress = Progress(label: "\(download.pool)/\(download.volume)", direction: "download", logger: logger)
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var received: UInt64 = 0
        while received < download.length {
            let wanted = min(segment, download.length - received)
            let stream = try DataStream(connection: connection, nonBlocking: false)
            try found.download(into: stream, offset: download.offset + received, length: wanted)
            var got: UInt64 = 0
            do {
                while got < wanted {
                    let count = try buffer.withUnsafeMutableBytes { try stream.receive(into: $0) }
                    if count == 0 { break }
                    got += UInt64(count)
                    guard queue.putBlocking(Array(buffer[..<count])) else {
                        stream.abort()
                        logger.info("volume download stopped by the client", metadata: [
                            "volume": "\(progress.label)", "bytes": "\(received + got)",
                        ])
                        return
                    }
                    progress.advance(to: received + got)
                }
                guard got == wanted else {
                    throw VolumeTransferError.shortVolume(expected: download.length, received: received + got)
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
