import GuestConfig

/// What a migration of one domain to one destination would do, found without changing
/// anything on either host (`GET /v1/domains/{ref}/migration-check`); a migration is only
/// started when its plan is ``possible``.
public struct MigrationPlan: Sendable, Hashable, Encodable {
    /// A reason the migration cannot go ahead. Codes are stable: `not-running`, `same-host`,
    /// `destination-unreachable`, `name-conflict`, `insufficient-memory`, `cpu-incompatible`,
    /// `disk-not-shared`, `disk-target-missing`, `interface-missing`.
    public struct Problem: Sendable, Hashable, Encodable {
        public var code: String
        public var detail: String

        public init(code: String, detail: String) {
            self.code = code
            self.detail = detail
        }
    }

    public struct CPU: Sendable, Hashable, Encodable {
        public var compatible: Bool
        public var detail: String
    }

    public struct Memory: Sendable, Hashable, Encodable {
        public var neededMB: UInt64
        @NullWhenAbsent public var destinationFreeMB: UInt64?

        enum CodingKeys: String, CodingKey {
            case neededMB = "needed_mb"
            case destinationFreeMB = "destination_free_mb"
        }
    }

    public struct Disk: Sendable, Hashable, Encodable {
        public enum Action: String, Sendable, Hashable, Encodable {
            /// Shared (or read-only and present there): nothing moves.
            case none
            /// Copied to the destination while the guest runs (`copy_storage=all`).
            case copy
            /// The migration cannot take this disk along.
            case refuse
        }

        public var target: String
        public var source: String
        public var shared: Bool
        public var action: Action
        public var detail: String
    }

    public struct Interface: Sendable, Hashable, Encodable {
        public var mac: String
        public var type: String
        @NullWhenAbsent public var source: String?
        public var presentOnDestination: Bool

        enum CodingKeys: String, CodingKey {
            case mac, type, source
            case presentOnDestination = "present_on_destination"
        }
    }

    public var possible: Bool { problems.isEmpty }
    public var problems: [Problem]
    public var cpu: CPU
    public var memory: Memory
    public var disks: [Disk]
    public var interfaces: [Interface]
    public var nameConflict: Bool
    public var migratableXML: String

    /// The domain the plan is for.
    public var domainName: String
    public var domainUUID: String
    /// Some disk stays because this check proved the destination sees the same file, which
    /// libvirt cannot see for itself on a directory both hosts mount (it knows cluster file
    /// systems, not that): the migration says `VIR_MIGRATE_UNSAFE`, which the check made safe.
    var hasProvenSharedDisks: Bool

    enum CodingKeys: String, CodingKey {
        case possible, problems, cpu, memory, disks, interfaces
        case nameConflict = "name_conflict"
        case migratableXML = "migratable_xml"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(possible, forKey: .possible)
        try container.encode(problems, forKey: .problems)
        try container.encode(cpu, forKey: .cpu)
        try container.encode(memory, forKey: .memory)
        try container.encode(disks, forKey: .disks)
        try container.encode(interfaces, forKey: .interfaces)
        try container.encode(nameConflict, forKey: .nameConflict)
        try container.encode(migratableXML, forKey: .migratableXML)
    }

    /// The targets of the disks the migration copies.
    public var copiedDisks: [String] { disks.filter { $0.action == .copy }.map(\.target) }
}
