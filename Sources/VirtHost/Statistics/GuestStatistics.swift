import FoundationEssentials
import Libvirt

/// One domain's statistics as one document: the groups asked for of one
/// `virDomainListGetStats` record, libvirt's field names turned into the API's. Every group
/// asked for is present (null when libvirt gave none of it, as for the CPU of a stopped
/// domain), and every figure of a group is present (null when the driver does not give it),
/// so a document keeps the same members whatever the driver knows.
public struct GuestStatistics: Sendable, Encodable {
    /// The groups a caller can ask for (`?stats=`).
    public enum Group: String, CaseIterable, Sendable {
        case cpu, balloon, block, interface

        var libvirtGroup: DomainStatsGroups {
            switch self {
            case .cpu: .cpu
            case .balloon: .balloon
            case .block: .block
            case .interface: .interface
            }
        }
    }

    public let name: String
    public let uuid: String
    public let sampledAt: Date
    public let groups: Set<Group>
    public let cpu: StatisticsFigures?
    public let balloon: BalloonStatistics?
    public let block: [StatisticsFigures]
    public let interface: [StatisticsFigures]

    /// Reads `record` (of the `groups` asked for), sampled at `sampledAt`.
    init(name: String, uuid: String, groups: Set<Group>, record: [TypedParameter], sampledAt: Date) {
        self.name = name
        self.uuid = uuid
        self.groups = groups
        self.sampledAt = sampledAt
        let byField = Dictionary(record.map { ($0.field, $0.value) }, uniquingKeysWith: { first, _ in first })
        cpu = StatisticsFigures.read(byField, prefix: "cpu.", Self.cpuFigures)
        balloon = StatisticsFigures.read(byField, prefix: "balloon.", Self.balloonFigures).map {
            BalloonStatistics(host: $0, guest: StatisticsFigures.read(byField, prefix: "balloon.", Self.guestBalloonFigures))
        }
        block = StatisticsFigures.indexed(byField, group: "block", Self.blockFigures)
        interface = StatisticsFigures.indexed(byField, group: "net", Self.interfaceFigures)
    }

    // libvirt's field (after the group's prefix) → the document's member.
    static let cpuFigures = [("time", "time_ns"), ("user", "user_ns"), ("system", "system_ns")]
    static let balloonFigures = [("current", "current_kib"), ("maximum", "maximum_kib"), ("rss", "rss_kib")]
    static let guestBalloonFigures = [
        ("available", "available_kib"), ("usable", "usable_kib"), ("unused", "unused_kib"),
        ("disk_caches", "disk_caches_kib"), ("swap_in", "swap_in_kib"), ("swap_out", "swap_out_kib"),
        ("major_fault", "major_faults"), ("minor_fault", "minor_faults"),
        ("hugetlb_pgalloc", "hugetlb_allocations"), ("hugetlb_pgfail", "hugetlb_failures"),
        ("last-update", "last_update_s"),
    ]
    static let blockFigures = [
        ("name", "name"), ("path", "path"),
        ("rd.reqs", "read_requests"), ("rd.bytes", "read_bytes"), ("rd.times", "read_time_ns"),
        ("wr.reqs", "write_requests"), ("wr.bytes", "write_bytes"), ("wr.times", "write_time_ns"),
        ("fl.reqs", "flush_requests"), ("fl.times", "flush_time_ns"), ("errors", "errors"),
        ("capacity", "capacity_bytes"), ("allocation", "allocation_bytes"), ("physical", "physical_bytes"),
    ]
    static let interfaceFigures = [
        ("name", "name"),
        ("rx.bytes", "rx_bytes"), ("rx.pkts", "rx_packets"), ("rx.errs", "rx_errors"), ("rx.drop", "rx_drops"),
        ("tx.bytes", "tx_bytes"), ("tx.pkts", "tx_packets"), ("tx.errs", "tx_errors"), ("tx.drop", "tx_drops"),
    ]

    enum CodingKeys: String, CodingKey {
        case name, uuid, cpu, balloon, block, interface
        case sampledAt = "sampled_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(uuid, forKey: .uuid)
        try container.encode(sampledAt, forKey: .sampledAt)
        if groups.contains(.cpu) { try container.encode(NullWhenAbsent(wrappedValue: cpu), forKey: .cpu) }
        if groups.contains(.balloon) { try container.encode(NullWhenAbsent(wrappedValue: balloon), forKey: .balloon) }
        if groups.contains(.block) { try container.encode(block, forKey: .block) }
        if groups.contains(.interface) { try container.encode(interface, forKey: .interface) }
    }
}

/// One object of a statistics document: named figures in a fixed order, each a number, a
/// string, or null when libvirt did not give it.
public struct StatisticsFigures: Sendable, Encodable {
    public enum Figure: Sendable, Equatable {
        case number(UInt64), decimal(Double), text(String), absent
    }

    public let figures: [(member: String, value: Figure)]

    public subscript(member: String) -> Figure? {
        figures.first { $0.member == member }?.value
    }

    /// The figures under `prefix`; nil when libvirt gave none of them.
    static func read(_ byField: [String: TypedParameter.Value], prefix: String,
                     _ names: [(String, String)]) -> StatisticsFigures? {
        let figures = names.map { field, member in (member, Figure(byField[prefix + field])) }
        guard figures.contains(where: { $0.1 != .absent }) else { return nil }
        return StatisticsFigures(figures: figures)
    }

    /// The entries of a counted group (`block.count`, `block.0.name`, …), in libvirt's order.
    static func indexed(_ byField: [String: TypedParameter.Value], group: String,
                        _ names: [(String, String)]) -> [StatisticsFigures] {
        guard let count = byField["\(group).count"]?.number, count > 0 else { return [] }
        return (0..<Int(count)).compactMap { index in
            read(byField, prefix: "\(group).\(index).", names)
        }
    }

    struct Member: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Member.self)
        try encode(into: &container)
    }

    func encode(into container: inout KeyedEncodingContainer<Member>) throws {
        for (member, value) in figures {
            let key = Member(stringValue: member)
            switch value {
            case .number(let number): try container.encode(number, forKey: key)
            case .decimal(let number): try container.encode(number, forKey: key)
            case .text(let text): try container.encode(text, forKey: key)
            case .absent: try container.encodeNil(forKey: key)
            }
        }
    }
}

extension StatisticsFigures.Figure {
    init(_ value: TypedParameter.Value?) {
        switch value {
        case .int(let number)?: self = number >= 0 ? .number(UInt64(number)) : .absent
        case .uint(let number)?: self = .number(UInt64(number))
        case .llong(let number)?: self = number >= 0 ? .number(UInt64(number)) : .absent
        case .ullong(let number)?: self = .number(number)
        case .double(let number)?: self = .decimal(number)
        case .boolean(let flag)?: self = .number(flag ? 1 : 0)
        case .string(let text)?: self = .text(text)
        case nil: self = .absent
        }
    }
}

/// The balloon group: the host's view of the guest's memory, and, in `guest`, what the
/// guest's balloon driver reports of itself (null when it reports nothing).
public struct BalloonStatistics: Sendable, Encodable {
    public let host: StatisticsFigures
    public let guest: StatisticsFigures?

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: StatisticsFigures.Member.self)
        try host.encode(into: &container)
        try container.encode(NullWhenAbsent(wrappedValue: guest), forKey: .init(stringValue: "guest"))
    }
}
