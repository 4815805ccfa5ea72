import Libvirt

/// Writes a byte stream into a sparse libvirt stream: each aligned block of zeros becomes part
/// of a hole (`virStreamSendHole`), and each run of other blocks is sent as data straight from
/// the piece it arrived in (one `virStreamSend` per run, no copy). So a raw image's holes stay
/// holes in the volume, and a run of zeros costs no bandwidth.
struct SparseSender {
    struct Totals: Sendable {
        var total: UInt64 = 0
        var holes: UInt64 = 0
    }

    /// Zeros shorter than this, or not aligned to it, are sent as data (the file system's block).
    static let block = 4096
    /// The longest run sent in one message (libvirt's client splits none of its own).
    static let maximumRun = 256 * 1024

    let stream: DataStream
    private(set) var totals = Totals()
    /// The start of a block that the last piece ended in (blocks stay aligned to the stream).
    private var partial: [UInt8] = []
    /// Zeros seen and not sent yet: a hole grows across pieces until data follows.
    private var hole: Int64 = 0

    init(stream: DataStream) {
        self.stream = stream
        partial.reserveCapacity(Self.block)
    }

    /// Sends `piece`'s data runs before it returns (the piece may be reused then); a hole and
    /// the piece's last partial block wait for what follows.
    mutating func write(_ piece: [UInt8]) throws {
        totals.total += UInt64(piece.count)
        try piece.withUnsafeBytes { raw in
            var offset = 0
            if !partial.isEmpty {
                offset = min(Self.block - partial.count, raw.count)
                partial.append(contentsOf: raw[..<offset])
                guard partial.count == Self.block else { return }
                let block = partial
                try block.withUnsafeBytes { try sendRun(of: $0) }
                partial.removeAll(keepingCapacity: true)
            }
            let whole = offset + (raw.count - offset) / Self.block * Self.block
            try sendRun(of: UnsafeRawBufferPointer(rebasing: raw[offset ..< whole]))
            partial.append(contentsOf: raw[whole...])
        }
    }

    /// Sends what is still held: the last partial block, then the last hole.
    mutating func flush() throws {
        if !partial.isEmpty {
            if partial.withUnsafeBytes(Self.isZero) {
                hole += Int64(partial.count)
                totals.holes += UInt64(partial.count)
            } else {
                try sendHole()
                try partial.withUnsafeBytes { try stream.sendAll($0) }
            }
            partial.removeAll()
        }
        try sendHole()
    }

    /// Whole blocks: zero ones join the hole, runs of the others are sent as they are.
    private mutating func sendRun(of blocks: UnsafeRawBufferPointer) throws {
        var offset = 0
        var dataStart: Int?
        while offset < blocks.count {
            let block = UnsafeRawBufferPointer(rebasing: blocks[offset ..< offset + Self.block])
            if Self.isZero(block) {
                if let start = dataStart {
                    try stream.sendAll(UnsafeRawBufferPointer(rebasing: blocks[start ..< offset]))
                    dataStart = nil
                }
                hole += Int64(Self.block)
                totals.holes += UInt64(Self.block)
            } else if dataStart == nil {
                try sendHole()
                dataStart = offset
            }
            offset += Self.block
            if let start = dataStart, offset - start >= Self.maximumRun {
                try stream.sendAll(UnsafeRawBufferPointer(rebasing: blocks[start ..< offset]))
                dataStart = nil
            }
        }
        if let start = dataStart { try stream.sendAll(UnsafeRawBufferPointer(rebasing: blocks[start...])) }
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
