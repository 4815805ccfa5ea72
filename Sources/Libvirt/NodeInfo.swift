import CLibvirt

/// The host's `virNodeInfo`.
public struct NodeInfo: Sendable, Hashable {
    /// CPU model string as the driver reports it (often the architecture, e.g. `x86_64`).
    public let model: String
    /// Memory in KiB.
    public let memoryKiB: UInt64
    /// Active CPUs.
    public let cpus: Int
    /// Expected CPU frequency in MHz (0 when unknown).
    public let mhz: Int
    public let numaNodes: Int
    public let sockets: Int
    public let cores: Int
    public let threads: Int

    init(_ info: virNodeInfo) {
        var copy = info
        model = withUnsafeBytes(of: &copy.model) { bytes in
            String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        memoryKiB = UInt64(info.memory)
        cpus = Int(info.cpus)
        mhz = Int(info.mhz)
        numaNodes = Int(info.nodes)
        sockets = Int(info.sockets)
        cores = Int(info.cores)
        threads = Int(info.threads)
    }

    public init(model: String, memoryKiB: UInt64, cpus: Int, mhz: Int, numaNodes: Int,
                sockets: Int, cores: Int, threads: Int) {
        self.model = model
        self.memoryKiB = memoryKiB
        self.cpus = cpus
        self.mhz = mhz
        self.numaNodes = numaNodes
        self.sockets = sockets
        self.cores = cores
        self.threads = threads
    }
}
