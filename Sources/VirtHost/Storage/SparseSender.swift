import Libvirt

/// Writes a byte stream into a sparse libvirt stream: each aligned block of zeros becomes part
/// of a hole (`virStreamSendHole`), everything else is sent as data in runs of up to
/// ``maximumRun`` bytes. So a raw image's holes stay holes in the volume, and a run of zeros
/// costs no bandwidth.
struct SparseSender {
    struct Totals: Sendable {
        var total: UInt64 = 0
        var holes: UInt64 = 0
    }

    /// Zeros shorter than this, or not aligned to it, are sent as data (the file system's block).
    static let block = 4096
    static let maximumRun = 1 << 20

    let stream: DataStream
    private(set) var totals = Totals()
    /// Bytes of a block not complete yet.
    private var partial: [UInt8] = []
    private var data: [UInt8] = []
    private var hole: Int64 = 0

    init(stream: DataStream) {
        self.stream = stream
        data.reserveCapacity(Self.maximumRun)
        partial.reserveCapacity(Self.block)
    }

    mutating func write(_ chunk: [UInt8]) throws {
        totals.total += UInt64(chunk.count)
        var start = 0
        if !partial.isEmpty {
            let take = min(Self.block - partial.count, chunk.count)
            partial += chunk[..<take]
            start = take
            guard partial.count == Self.block else { return }
            try partial.withUnsafeBytes { try add($0) }
            partial.removeAll(keepingCapacity: true)
        }
        try chunk.withUnsafeBytes { raw in
            var offset = start
            while raw.count - offset >= Self.block {
                try add(UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + Self.block]))
                offset += Self.block
            }
            partial += raw[offset...]
        }
    }

    /// Sends what is still held: the last partial block, the last run of data or hole.
    mutating func flush() throws {
        if !partial.isEmpty {
            if partial.withUnsafeBytes(Self.isZero) {
                hole += Int64(partial.count)
                totals.holes += UInt64(partial.count)
            } else {
                try sendHole()
                data += partial
            }
            partial.removeAll()
        }
        try sendData()
        try sendHole()
    }

    private mutating func add(_ block: UnsafeRawBufferPointer) throws {
        if Self.isZero(block) {
            try sendData()
            hole += Int64(block.count)
            totals.holes += UInt64(block.count)
        } else {
            try sendHole()
            data.append(contentsOf: block)
            if data.count >= Self.maximumRun { try sendData() }
        }
    }

    private mutating func sendData() throws {
        guard !data.isEmpty else { return }
        try data.withUnsafeBytes { try stream.sendAll($0) }
        data.removeAll(keepingCapacity: true)
    }

    private mutating func sendHole() throws {
        guard hole > 0 else { return }
        try stream.sendHole(hole)
        hole = 0
    }

    /// Whether every byte is zero, a word at a time.
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let words = bytes.count / 8
        for index in 0 ..< words where bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) != 0 {
            return false
        }
        for index in words * 8 ..< bytes.count where bytes[index] != 0 { return false }
        return true
    }
}
