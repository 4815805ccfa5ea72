import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// One libvirt domain (`virDomainPtr`), freed when the last reference goes.
/// Not `Sendable`, for the same reason as ``Connection``.
public final class Domain {
    let handle: virDomainPtr

    /// Takes ownership of a domain reference the caller got from libvirt.
    init(taking handle: virDomainPtr) { self.handle = handle }

    deinit { virDomainFree(handle) }

    public func name() throws -> String {
        guard let name = virDomainGetName(handle) else { throw LibvirtError.last("virDomainGetName") }
        return String(cString: name)
    }

    public func uuid() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(handle, &buffer) == 0 else { throw LibvirtError.last("virDomainGetUUIDString") }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The hypervisor's id for a running domain; nil when it is not running.
    public func id() -> UInt32? {
        let id = virDomainGetID(handle)
        return id == UInt32.max ? nil : id
    }

    public func info() throws -> DomainInfo {
        var info = virDomainInfo()
        guard virDomainGetInfo(handle, &info) == 0 else { throw LibvirtError.last("virDomainGetInfo") }
        return DomainInfo(
            state: DomainState(rawValue: Int32(info.state)) ?? .nostate,
            maxMemoryKiB: UInt64(info.maxMem),
            memoryKiB: UInt64(info.memory),
            vcpus: Int(info.nrVirtCpu),
            cpuTimeNanoseconds: UInt64(info.cpuTime)
        )
    }

    public func isActive() throws -> Bool {
        let result = virDomainIsActive(handle)
        guard result >= 0 else { throw LibvirtError.last("virDomainIsActive") }
        return result == 1
    }

    public func isPersistent() throws -> Bool {
        let result = virDomainIsPersistent(handle)
        guard result >= 0 else { throw LibvirtError.last("virDomainIsPersistent") }
        return result == 1
    }

    public func autostart() throws -> Bool {
        var value: Int32 = 0
        guard virDomainGetAutostart(handle, &value) == 0 else { throw LibvirtError.last("virDomainGetAutostart") }
        return value != 0
    }

    /// The domain XML (`virDomainGetXMLDesc`).
    public func xml(_ flags: DomainXMLFlags = []) throws -> String {
        guard let xml = virDomainGetXMLDesc(handle, flags.rawValue) else { throw LibvirtError.last("virDomainGetXMLDesc") }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Size and allocation of one disk, named by target (`vda`) or source path
    /// (`virDomainGetBlockInfo`). Works for inactive domains too.
    public func blockInfo(_ disk: String) throws -> BlockInfo {
        var info = virDomainBlockInfo()
        guard virDomainGetBlockInfo(handle, disk, &info, 0) == 0 else { throw LibvirtError.last("virDomainGetBlockInfo") }
        return BlockInfo(capacity: UInt64(info.capacity), allocation: UInt64(info.allocation),
                         physical: UInt64(info.physical))
    }

    // MARK: Lifecycle

    public func create() throws {
        guard virDomainCreate(handle) == 0 else { throw LibvirtError.last("virDomainCreate") }
    }

    public func suspend() throws {
        guard virDomainSuspend(handle) == 0 else { throw LibvirtError.last("virDomainSuspend") }
    }

    public func resume() throws {
        guard virDomainResume(handle) == 0 else { throw LibvirtError.last("virDomainResume") }
    }

    public func destroy() throws {
        guard virDomainDestroy(handle) == 0 else { throw LibvirtError.last("virDomainDestroy") }
    }

    /// Removes the persistent definition (`virDomainUndefineFlags`).
    public func undefine(_ flags: DomainUndefineFlags = []) throws {
        guard virDomainUndefineFlags(handle, flags.rawValue) == 0 else { throw LibvirtError.last("virDomainUndefineFlags") }
    }
}

/// `virDomainUndefineFlagsValues`.
public struct DomainUndefineFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let managedSave = DomainUndefineFlags(rawValue: VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue)
    public static let snapshotsMetadata = DomainUndefineFlags(rawValue: VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue)
    public static let nvram = DomainUndefineFlags(rawValue: VIR_DOMAIN_UNDEFINE_NVRAM.rawValue)
}

/// `virDomainGetXMLDesc` flags.
public struct DomainXMLFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let secure = DomainXMLFlags(rawValue: VIR_DOMAIN_XML_SECURE.rawValue)
    public static let inactive = DomainXMLFlags(rawValue: VIR_DOMAIN_XML_INACTIVE.rawValue)
}

/// `virDomainState`, with libvirt's names.
public enum DomainState: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case nostate = 0, running, blocked, paused, shutdown, shutoff, crashed, pmsuspended

    public var description: String {
        switch self {
        case .nostate: "nostate"
        case .running: "running"
        case .blocked: "blocked"
        case .paused: "paused"
        case .shutdown: "shutdown"
        case .shutoff: "shutoff"
        case .crashed: "crashed"
        case .pmsuspended: "pmsuspended"
        }
    }
}

/// `virDomainInfo`.
public struct DomainInfo: Sendable, Hashable {
    public let state: DomainState
    public let maxMemoryKiB: UInt64
    public let memoryKiB: UInt64
    public let vcpus: Int
    public let cpuTimeNanoseconds: UInt64
}
