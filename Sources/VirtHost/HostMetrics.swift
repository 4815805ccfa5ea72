import FoundationEssentials
import Glibc
import Libvirt

/// The host's resource figures as Nova's libvirt driver computes them, sampled at one moment.
public struct HostMetrics: Sendable, Encodable {
    public struct VCPUs: Sendable, Encodable {
        /// Online host CPUs.
        public var total: Int
        /// vCPUs of running domains.
        public var used: Int
        /// `cpu_map` (libvirt's map of online CPUs) or `node_info` where the driver has no map.
        public var source: String
    }

    public struct Memory: Sendable, Encodable {
        public var total: UInt64
        public var used: UInt64
        /// `node_memory_stats` (total − free − buffers − cached) or `domains` (the sum of running
        /// domains' current memory) where the driver has no memory statistics.
        public var source: String
    }

    public struct Hypervisor: Sendable, Encodable {
        public var type: String
        public var version: String
        public var versionCode: Int
        public var hostname: String

        enum CodingKeys: String, CodingKey {
            case type, version, hostname
            case versionCode = "version_code"
        }
    }

    public struct CPUInfo: Sendable, Encodable {
        public struct Topology: Sendable, Encodable {
            public var cells: Int
            public var sockets: Int
            public var cores: Int
            public var threads: Int
        }

        public var arch: String
        @NullWhenAbsent public var model: String?
        @NullWhenAbsent public var vendor: String?
        public var topology: Topology
        public var features: [String]
    }

    public var vcpus: VCPUs
    public var memoryMB: Memory
    public var hypervisor: Hypervisor
    public var cpuInfo: CPUInfo
    public var disk: DiskUsage
    public var sampledAt: Date

    enum CodingKeys: String, CodingKey {
        case vcpus, hypervisor
        case memoryMB = "memory_mb"
        case cpuInfo = "cpu_info"
        case disk = "disk_gb"
        case sampledAt = "sampled_at"
    }

    /// Nova's `memory_mb_used`: what the host uses beyond free, buffers and page cache.
    static func memoryUsedKiB(stats: [String: UInt64]) -> UInt64? {
        guard let total = stats["total"], let free = stats["free"] else { return nil }
        let reclaimable = free + (stats["buffers"] ?? 0) + (stats["cached"] ?? 0)
        return total > reclaimable ? total - reclaimable : 0
    }

    /// Nova's topology for `cpu_info`: the capabilities' `<topology>`, else node info's.
    static func topology(capabilities: HostCapabilities, nodeInfo: NodeInfo) -> CPUInfo.Topology {
        let cells = capabilities.cells.isEmpty ? nodeInfo.numaNodes : capabilities.cells.count
        if let topology = capabilities.cpu.topology {
            return .init(cells: cells, sockets: topology.sockets, cores: topology.cores, threads: topology.threads)
        }
        return .init(cells: cells, sockets: nodeInfo.sockets, cores: nodeInfo.cores, threads: nodeInfo.threads)
    }
}

/// Disk space of the instances path, and what is left once every file-backed disk has grown
/// to its full size (Nova's `disk_available_least`).
public struct DiskUsage: Sendable, Encodable {
    public var path: String
    public var totalBytes: UInt64?
    public var freeBytes: UInt64?
    /// Σ over every domain's file-backed disks of capacity − allocation.
    public var overCommittedBytes: UInt64
    /// Why the figures are missing, e.g. the path does not exist.
    public var error: String?
    /// The over-commit by domain UUID (not in the document): what the tests compare one
    /// domain at a time, whatever other domains the shared libvirtd has.
    var overCommittedByDomain: [String: UInt64] = [:]

    public init(path: String, totalBytes: UInt64? = nil, freeBytes: UInt64? = nil, overCommittedBytes: UInt64,
                error: String? = nil) {
        self.path = path
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
        self.overCommittedBytes = overCommittedBytes
        self.error = error
    }

    /// Free bytes minus the over-commit, which may be negative (Nova reports it so).
    public var availableLeastBytes: Int64? {
        freeBytes.map { Int64(clamping: $0) - Int64(clamping: overCommittedBytes) }
    }

    static let gibibyte: Double = 1024 * 1024 * 1024

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        // Whole GiB, rounded down, as Nova reports them.
        try container.encode(totalBytes.map { Int(Double($0) / Self.gibibyte) }, forKey: .total)
        try container.encode(freeBytes.map { Int(Double($0) / Self.gibibyte) }, forKey: .free)
        try container.encode(availableLeastBytes.map { Int((Double($0) / Self.gibibyte).rounded(.down)) },
                             forKey: .availableLeast)
        try container.encode(overCommittedBytes, forKey: .overCommittedBytes)
        try container.encode(error, forKey: .error)
    }

    enum CodingKeys: String, CodingKey {
        case path, total, free, error
        case availableLeast = "available_least"
        case overCommittedBytes = "over_committed_bytes"
    }

    /// Reads total and free bytes of the file system holding `path` (`statvfs`).
    static func fileSystem(at path: String) -> (total: UInt64, free: UInt64)? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        let fragment = UInt64(stats.f_frsize)
        return (UInt64(stats.f_blocks) * fragment, UInt64(stats.f_bavail) * fragment)
    }

    /// The bytes a disk may still grow by: for qcow2 its virtual size minus what it occupies;
    /// for a sparse raw file its size minus its allocated blocks. Never negative (a fully
    /// written qcow2 occupies more than its virtual size, for its metadata).
    public static func overCommit(_ info: BlockInfo) -> UInt64 {
        info.capacity > info.allocation ? info.capacity - info.allocation : 0
    }
}
