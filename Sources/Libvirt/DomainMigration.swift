import CLibvirt

/// `virDomainMigrateFlags`.
public struct DomainMigrateFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let live = DomainMigrateFlags(rawValue: VIR_MIGRATE_LIVE.rawValue)
    /// The source's libvirtd drives the migration itself, talking to the destination's.
    public static let peerToPeer = DomainMigrateFlags(rawValue: VIR_MIGRATE_PEER2PEER.rawValue)
    public static let persistDestination = DomainMigrateFlags(rawValue: VIR_MIGRATE_PERSIST_DEST.rawValue)
    public static let undefineSource = DomainMigrateFlags(rawValue: VIR_MIGRATE_UNDEFINE_SOURCE.rawValue)
    /// Copy every disk to the destination (block migration of the whole image).
    public static let nonSharedDisk = DomainMigrateFlags(rawValue: VIR_MIGRATE_NON_SHARED_DISK.rawValue)
    /// Migrate although libvirt cannot tell the storage is safe to share.
    public static let unsafe = DomainMigrateFlags(rawValue: VIR_MIGRATE_UNSAFE.rawValue)
    public static let compressed = DomainMigrateFlags(rawValue: VIR_MIGRATE_COMPRESSED.rawValue)
    public static let abortOnError = DomainMigrateFlags(rawValue: VIR_MIGRATE_ABORT_ON_ERROR.rawValue)
    public static let autoConverge = DomainMigrateFlags(rawValue: VIR_MIGRATE_AUTO_CONVERGE.rawValue)
    /// Allow a switch to post-copy (``Domain/migrateStartPostCopy()``) while it runs.
    public static let postCopy = DomainMigrateFlags(rawValue: VIR_MIGRATE_POSTCOPY.rawValue)
    public static let tls = DomainMigrateFlags(rawValue: VIR_MIGRATE_TLS.rawValue)
}

/// The typed parameters of `virDomainMigrateToURI3` (`VIR_MIGRATE_PARAM_*`) that callers set.
public struct DomainMigrateParameters: Sendable, Hashable {
    /// Where the migration stream goes (`migrate_uri`), when not where the destination's
    /// libvirt would choose.
    public var migrationURI: String?
    /// At most this many MiB/s (`bandwidth`).
    public var bandwidthMiBs: UInt64?
    /// With ``DomainMigrateFlags/nonSharedDisk``: only these disks (targets) are copied
    /// (`migrate_disks`); empty copies every writable one.
    public var disks: [String]

    public init(migrationURI: String? = nil, bandwidthMiBs: UInt64? = nil, disks: [String] = []) {
        self.migrationURI = migrationURI
        self.bandwidthMiBs = bandwidthMiBs
        self.disks = disks
    }
}

extension Domain {
    /// Migrates the domain to the libvirt at `destination` (`virDomainMigrateToURI3`). It
    /// returns when the migration has ended; ``abortJob()`` from another connection stops it.
    public func migrate(to destination: String, _ parameters: DomainMigrateParameters, flags: DomainMigrateFlags) throws {
        var list: virTypedParameterPtr?
        var count: Int32 = 0, capacity: Int32 = 0
        defer { virTypedParamsFree(list, count) }
        if let uri = parameters.migrationURI {
            try LibvirtError.status("virTypedParamsAddString") {
                virTypedParamsAddString(&list, &count, &capacity, VIR_MIGRATE_PARAM_URI, uri)
            }
        }
        if let bandwidth = parameters.bandwidthMiBs {
            try LibvirtError.status("virTypedParamsAddULLong") {
                virTypedParamsAddULLong(&list, &count, &capacity, VIR_MIGRATE_PARAM_BANDWIDTH, bandwidth)
            }
        }
        for disk in parameters.disks {
            try LibvirtError.status("virTypedParamsAddString") {
                virTypedParamsAddString(&list, &count, &capacity, VIR_MIGRATE_PARAM_MIGRATE_DISKS, disk)
            }
        }
        try LibvirtError.status("virDomainMigrateToURI3") {
            virDomainMigrateToURI3(handle, destination, list, UInt32(count), flags.rawValue)
        }
    }

    /// The longest pause the end of a live migration may take (`virDomainMigrateSetMaxDowntime`).
    public func setMigrationMaxDowntime(milliseconds: UInt64) throws {
        try LibvirtError.status("virDomainMigrateSetMaxDowntime") {
            virDomainMigrateSetMaxDowntime(handle, milliseconds, 0)
        }
    }

    /// The bandwidth a migration may use, in MiB/s (`virDomainMigrateSetMaxSpeed`).
    public func setMigrationMaxSpeed(mibPerSecond: UInt) throws {
        try LibvirtError.status("virDomainMigrateSetMaxSpeed") { virDomainMigrateSetMaxSpeed(handle, mibPerSecond, 0) }
    }

    /// Switches a running migration started with ``DomainMigrateFlags/postCopy`` to post-copy
    /// (`virDomainMigrateStartPostCopy`): the guest runs on the destination from now on.
    public func migrateStartPostCopy() throws {
        try LibvirtError.status("virDomainMigrateStartPostCopy") { virDomainMigrateStartPostCopy(handle, 0) }
    }

    /// The running job's statistics, or with `completed` the last finished job's
    /// (`virDomainGetJobStats`), named as libvirt names them (`memory_total`, `downtime`…).
    public func jobStatistics(completed: Bool = false) throws -> (kind: DomainJobInfo.Kind, statistics: [TypedParameter]) {
        var type: Int32 = 0
        var parameters: virTypedParameterPtr?
        var count: Int32 = 0
        let flags = completed ? UInt32(VIR_DOMAIN_JOB_STATS_COMPLETED.rawValue) : 0
        try LibvirtError.status("virDomainGetJobStats") { virDomainGetJobStats(handle, &type, &parameters, &count, flags) }
        defer { virTypedParamsFree(parameters, count) }
        return (DomainJobInfo.Kind(rawValue: type) ?? .none, TypedParameter.array(parameters, count: Int(count)))
    }
}
