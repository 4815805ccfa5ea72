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

/// One disk of a record's `block` group (`block.<n>.*`), as libvirt reports it. Which figures
/// are present depends on the driver and the domain's state: QEMU gives an inactive domain's
/// sizes from the image files (as `virDomainGetBlockInfo` does), a running one's from QEMU,
/// where `allocation` is the highest offset written (`wr_highest_offset`), 0 before any write.
public struct BlockStats: Sendable, Hashable {
    /// The target (`vda`).
    public let name: String
    /// The source's path, for local storage only (no network disk has one).
    public let path: String?
    public let allocation: UInt64?
    public let capacity: UInt64?
    public let physical: UInt64?

    public init(name: String, path: String?, allocation: UInt64?, capacity: UInt64?, physical: UInt64?) {
        self.name = name
        self.path = path
        self.allocation = allocation
        self.capacity = capacity
        self.physical = physical
    }
}

extension DomainStatsRecord {
    /// The disks of the `block` group, in libvirt's order; nil when the record has none (the
    /// group was not asked for, or the driver does not give it). Only the top image of each
    /// disk: a backing-chain entry (asked for with `.backing`) is left out.
    public var blocks: [BlockStats]? {
        // One pass: a running domain's record holds hundreds of parameters.
        var count: Int?
        var fields: [Int: [Substring: TypedParameter.Value]] = [:]
        for parameter in parameters where parameter.field.hasPrefix("block.") {
            let rest = parameter.field.dropFirst("block.".count)
            if rest == "count" {
                count = parameter.value.number.map { Int($0) }
                continue
            }
            guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]) else { continue }
            fields[index, default: [:]][rest[rest.index(after: dot)...]] = parameter.value
        }
        guard let count else { return nil }
        // With `.backing`, a disk's chain follows its top image under the same name: the
        // first entry of a name is the top.
        var seen = Set<String>()
        return (0..<count).compactMap { index in
            guard let disk = fields[index], case .string(let name)? = disk["name"], seen.insert(name).inserted
            else { return nil }
            var path: String?
            if case .string(let text)? = disk["path"] { path = text }
            return BlockStats(name: name, path: path, allocation: disk["allocation"]?.bytes,
                              capacity: disk["capacity"]?.bytes, physical: disk["physical"]?.bytes)
        }
    }

    /// `vcpu.current`: the domain's vCPUs now, when the record has the `vcpu` group.
    public var currentVCPUs: Int? {
        parameters.first { $0.field == "vcpu.current" }?.value.number.map { Int($0) }
    }
}

extension TypedParameter.Value {
    /// A size in bytes, exactly (a `Double` would round above 2^53).
    var bytes: UInt64? {
        switch self {
        case .ullong(let value): value
        case .llong(let value): value >= 0 ? UInt64(value) : nil
        case .uint(let value): UInt64(value)
        case .int(let value): value >= 0 ? UInt64(value) : nil
        default: nil
        }
    }
}

extension Domain {
    /// This domain's record (`virDomainListGetStats` with this one domain): the per-domain
    /// form of `virConnectGetAllDomainStats`, the same driver call, so the same groups and
    /// flags apply (but not `.active`/`.inactive`, which filter a whole listing). Nil when the
    /// driver gives no record for it.
    public func stats(_ groups: DomainStatsGroups, flags: DomainStatsFlags = []) throws -> DomainStatsRecord? {
        var records: UnsafeMutablePointer<virDomainStatsRecordPtr?>?
        var domains: [virDomainPtr?] = [handle, nil]
        let count = try LibvirtError.status("virDomainListGetStats") {
            virDomainListGetStats(&domains, groups.rawValue, &records, flags.rawValue)
        }
        guard let records else { return nil }
        defer { virDomainStatsRecordListFree(records) }
        guard count > 0, let record = records[0]?.pointee else { return nil }
        return DomainStatsRecord(domain: self, parameters: TypedParameter.array(record.params, count: Int(record.nparams)))
    }
}
