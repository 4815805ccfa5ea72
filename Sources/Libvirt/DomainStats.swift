import CLibvirt

/// One record of `virConnectGetAllDomainStats`: a domain and its statistics.
public struct DomainStatsRecord {
    public let domain: Domain
    public let parameters: [TypedParameter]
}

/// Which groups of statistics `virConnectGetAllDomainStats` reads (`virDomainStatsTypes`).
public struct DomainStatsGroups: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let state = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_STATE.rawValue)
    public static let cpu = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_CPU_TOTAL.rawValue)
    public static let balloon = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_BALLOON.rawValue)
    public static let vcpu = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_VCPU.rawValue)
    public static let interface = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_INTERFACE.rawValue)
    public static let block = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_BLOCK.rawValue)
}

/// `virConnectGetAllDomainStatsFlags`: which domains, and how.
public struct DomainStatsFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let active = DomainStatsFlags(rawValue: VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE.rawValue)
    public static let inactive = DomainStatsFlags(rawValue: VIR_CONNECT_GET_ALL_DOMAINS_STATS_INACTIVE.rawValue)
    /// Skip what needs a domain's job lock when another job holds it, so a busy domain
    /// cannot stall the whole call.
    public static let noWait = DomainStatsFlags(rawValue: UInt32(VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT.rawValue))
}

/// `virDomainBlockInfo`, in bytes.
public struct BlockInfo: Sendable, Hashable {
    /// Logical size as the guest sees it (the virtual size of a qcow2 image).
    public let capacity: UInt64
    /// Bytes the image occupies on the host (allocated blocks of a sparse file).
    public let allocation: UInt64
    /// Size of the container: the file's size, or the block device's.
    public let physical: UInt64

    public init(capacity: UInt64, allocation: UInt64, physical: UInt64) {
        self.capacity = capacity
        self.allocation = allocation
        self.physical = physical
    }
}
