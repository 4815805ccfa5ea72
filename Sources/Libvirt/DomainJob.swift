import CLibvirt

/// A domain's background job (a save, a dump, a migration, a snapshot with memory), as
/// `virDomainGetJobInfo` reports it.
public struct DomainJobInfo: Sendable, Hashable {
    /// `virDomainJobType`.
    public enum Kind: Int32, Sendable, Hashable {
        case none = 0, bounded = 1, unbounded = 2, completed = 3, failed = 4, cancelled = 5
    }

    public var kind: Kind
    public var elapsedMilliseconds: UInt64
    public var dataTotal: UInt64
    public var dataProcessed: UInt64
    public var dataRemaining: UInt64

    /// A job holds the domain now (libvirt reports the kind of a finished job only until it
    /// is cleaned up, which is still while the job holds the domain).
    public var isActive: Bool { kind != .none }
}

extension Domain {
    /// The job the domain runs now (`virDomainGetJobInfo`); kind `none` when there is none.
    public func jobInfo() throws -> DomainJobInfo {
        var info = virDomainJobInfo()
        try LibvirtError.status("virDomainGetJobInfo") { virDomainGetJobInfo(handle, &info) }
        return DomainJobInfo(kind: DomainJobInfo.Kind(rawValue: info.type) ?? .none,
                             elapsedMilliseconds: UInt64(info.timeElapsed), dataTotal: UInt64(info.dataTotal),
                             dataProcessed: UInt64(info.dataProcessed), dataRemaining: UInt64(info.dataRemaining))
    }

    /// How the domain's last job ended, where libvirt still has its statistics
    /// (`virDomainGetJobStats` with `VIR_DOMAIN_JOB_STATS_COMPLETED`); `none` when it has not.
    public func completedJobKind() throws -> DomainJobInfo.Kind {
        var type: Int32 = 0
        var parameters: virTypedParameterPtr?
        var count: Int32 = 0
        try LibvirtError.status("virDomainGetJobStats") {
            virDomainGetJobStats(handle, &type, &parameters, &count, UInt32(VIR_DOMAIN_JOB_STATS_COMPLETED.rawValue))
        }
        virTypedParamsFree(parameters, count)
        return DomainJobInfo.Kind(rawValue: type) ?? .none
    }

    /// Asks the domain's job to stop (`virDomainAbortJob`).
    public func abortJob() throws {
        try LibvirtError.status("virDomainAbortJob") { virDomainAbortJob(handle) }
    }
}
