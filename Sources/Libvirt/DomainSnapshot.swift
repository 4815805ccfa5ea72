import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// One domain snapshot (`virDomainSnapshotPtr`), freed when the last reference goes.
/// Not `Sendable`, for the same reason as ``Connection``.
public final class DomainSnapshot {
    let handle: virDomainSnapshotPtr

    /// Takes ownership of a snapshot reference the caller got from libvirt.
    init(taking handle: virDomainSnapshotPtr) { self.handle = handle }

    deinit { virDomainSnapshotFree(handle) }

    public func name() throws -> String {
        let name = try LibvirtError.call("virDomainSnapshotGetName") { virDomainSnapshotGetName(handle) }
        return String(cString: name)
    }

    /// The snapshot's XML (`<domainsnapshot>`, `virDomainSnapshotGetXMLDesc`).
    public func xml() throws -> String {
        let xml = try LibvirtError.call("virDomainSnapshotGetXMLDesc") { virDomainSnapshotGetXMLDesc(handle, 0) }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Whether the domain's next snapshot would be this one's child (`virDomainSnapshotIsCurrent`).
    public func isCurrent() throws -> Bool {
        try LibvirtError.status("virDomainSnapshotIsCurrent") { virDomainSnapshotIsCurrent(handle, 0) } == 1
    }

    /// Reverts the domain to this snapshot (`virDomainRevertToSnapshot`); blocks while a
    /// snapshot with memory is loaded.
    public func revert(_ flags: DomainSnapshotRevertFlags = []) throws {
        try LibvirtError.status("virDomainRevertToSnapshot") { virDomainRevertToSnapshot(handle, flags.rawValue) }
    }

    /// Deletes the snapshot, or with `.children` its subtree too (`virDomainSnapshotDelete`).
    public func delete(_ flags: DomainSnapshotDeleteFlags = []) throws {
        try LibvirtError.status("virDomainSnapshotDelete") { virDomainSnapshotDelete(handle, flags.rawValue) }
    }
}

/// `virDomainSnapshotCreateFlags`.
public struct DomainSnapshotCreateFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let diskOnly = DomainSnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY.rawValue)
    public static let atomic = DomainSnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC.rawValue)
    public static let quiesce = DomainSnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE.rawValue)
}

/// `virDomainSnapshotRevertFlags`.
public struct DomainSnapshotRevertFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let running = DomainSnapshotRevertFlags(rawValue: VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING.rawValue)
    public static let paused = DomainSnapshotRevertFlags(rawValue: VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED.rawValue)
}

/// `virDomainSnapshotDeleteFlags`.
public struct DomainSnapshotDeleteFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let children = DomainSnapshotDeleteFlags(rawValue: VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN.rawValue)
}

extension Domain {
    /// Takes a snapshot as `xml` describes it (`virDomainSnapshotCreateXML`); with memory, blocks
    /// while the RAM is written.
    public func createSnapshot(xml: String, _ flags: DomainSnapshotCreateFlags = []) throws -> DomainSnapshot {
        let snapshot = try LibvirtError.call("virDomainSnapshotCreateXML") {
            virDomainSnapshotCreateXML(handle, xml, flags.rawValue)
        }
        return DomainSnapshot(taking: snapshot)
    }

    /// Every snapshot of the domain, in one `virDomainListAllSnapshots` call.
    public func listAllSnapshots() throws -> [DomainSnapshot] {
        var list: UnsafeMutablePointer<virDomainSnapshotPtr?>?
        let count = try LibvirtError.status("virDomainListAllSnapshots") { virDomainListAllSnapshots(handle, &list, 0) }
        return takeAll(list, count: count, DomainSnapshot.init(taking:))
    }

    /// The snapshot of this name; nil when the domain has none (`virDomainSnapshotLookupByName`).
    public func lookupSnapshot(name: String) throws -> DomainSnapshot? {
        try LibvirtError.call("virDomainSnapshotLookupByName", absentWhen: VIR_ERR_NO_DOMAIN_SNAPSHOT) {
            virDomainSnapshotLookupByName(handle, name, 0)
        }.map(DomainSnapshot.init(taking:))
    }
}

extension LibvirtError {
    /// No guest agent answers: none is configured, it is not connected, or it does not reply.
    public var isAgentUnavailable: Bool {
        [VIR_ERR_AGENT_UNRESPONSIVE, VIR_ERR_AGENT_UNSYNCED, VIR_ERR_ARGUMENT_UNSUPPORTED]
            .contains { code == Int32($0.rawValue) }
    }
}
