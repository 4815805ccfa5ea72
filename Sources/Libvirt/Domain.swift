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
        let name = try LibvirtError.call("virDomainGetName") { virDomainGetName(handle) }
        return String(cString: name)
    }

    /// The UUID in its usual text form, formatted here from the raw bytes (`virDomainGetUUID`):
    /// libvirt's own formatting goes through printf, a real cost when listing many domains.
    public func uuid() throws -> String {
        var bytes: (UInt64, UInt64) = (0, 0)
        _ = try withUnsafeMutableBytes(of: &bytes) { raw throws(LibvirtError) in
            try LibvirtError.status("virDomainGetUUID") {
                virDomainGetUUID(handle, raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return withUnsafeBytes(of: &bytes) { raw in
            String(unsafeUninitializedCapacity: 36) { text in
                let digits: StaticString = "0123456789abcdef"
                var length = 0
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[length] = UInt8(ascii: "-")
                        length += 1
                    }
                    text[length] = digits.utf8Start[Int(raw[index] >> 4)]
                    text[length + 1] = digits.utf8Start[Int(raw[index] & 0x0F)]
                    length += 2
                }
                return length
            }
        }
    }

    /// The hypervisor's id for a running domain; nil when it is not running.
    public func id() -> UInt32? {
        let id = virDomainGetID(handle)
        return id == UInt32.max ? nil : id
    }

    public func info() throws -> DomainInfo {
        var info = virDomainInfo()
        try LibvirtError.status("virDomainGetInfo") { virDomainGetInfo(handle, &info) }
        return DomainInfo(
            state: DomainState(rawValue: Int32(info.state)) ?? .nostate,
            maxMemoryKiB: UInt64(info.maxMem),
            memoryKiB: UInt64(info.memory),
            vcpus: Int(info.nrVirtCpu),
            cpuTimeNanoseconds: UInt64(info.cpuTime)
        )
    }

    public func isActive() throws -> Bool {
        let result = try LibvirtError.status("virDomainIsActive") { virDomainIsActive(handle) }
        return result == 1
    }

    public func isPersistent() throws -> Bool {
        let result = try LibvirtError.status("virDomainIsPersistent") { virDomainIsPersistent(handle) }
        return result == 1
    }

    public func autostart() throws -> Bool {
        var value: Int32 = 0
        try LibvirtError.status("virDomainGetAutostart") { virDomainGetAutostart(handle, &value) }
        return value != 0
    }

    /// Whether the domain starts with the host (`virDomainSetAutostart`).
    public func setAutostart(_ autostart: Bool) throws {
        try LibvirtError.status("virDomainSetAutostart") { virDomainSetAutostart(handle, autostart ? 1 : 0) }
    }

    /// The domain XML (`virDomainGetXMLDesc`).
    public func xml(_ flags: DomainXMLFlags = []) throws -> String {
        let xml = try LibvirtError.call("virDomainGetXMLDesc") { virDomainGetXMLDesc(handle, flags.rawValue) }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Size and allocation of one disk, named by target (`vda`) or source path
    /// (`virDomainGetBlockInfo`). Works for inactive domains too.
    public func blockInfo(_ disk: String) throws -> BlockInfo {
        var info = virDomainBlockInfo()
        try LibvirtError.status("virDomainGetBlockInfo") { virDomainGetBlockInfo(handle, disk, &info, 0) }
        return BlockInfo(capacity: UInt64(info.capacity), allocation: UInt64(info.allocation),
                         physical: UInt64(info.physical))
    }

    // MARK: Lifecycle

    public func create() throws {
        try LibvirtError.status("virDomainCreate") { virDomainCreate(handle) }
    }

    /// Starts a defined domain, optionally paused (`virDomainCreateWithFlags`).
    public func create(paused: Bool) throws {
        let flags = paused ? VIR_DOMAIN_START_PAUSED.rawValue : 0
        try LibvirtError.status("virDomainCreateWithFlags") { virDomainCreateWithFlags(handle, flags) }
    }

    /// Asks the guest to power off (ACPI), without waiting (`virDomainShutdown`).
    public func shutdown() throws {
        try LibvirtError.status("virDomainShutdown") { virDomainShutdown(handle) }
    }

    /// Asks the guest to reboot (`virDomainReboot`).
    public func reboot() throws {
        try LibvirtError.status("virDomainReboot") { virDomainReboot(handle, 0) }
    }

    public func injectNMI() throws {
        try LibvirtError.status("virDomainInjectNMI") { virDomainInjectNMI(handle, 0) }
    }

    /// The state and its reason code (`virDomainGetState`).
    public func state() throws -> (state: DomainState, reason: Int32) {
        var state: Int32 = 0
        var reason: Int32 = 0
        try LibvirtError.status("virDomainGetState") { virDomainGetState(handle, &state, &reason, 0) }
        return (DomainState(rawValue: state) ?? .nostate, reason)
    }

    /// Each vCPU of a running domain (`virDomainGetVcpus`).
    public func vcpus() throws -> [VCPUInfo] {
        let count = try info().vcpus
        var infos = [virVcpuInfo](repeating: virVcpuInfo(), count: max(count, 1))
        let filled = try LibvirtError.status("virDomainGetVcpus") { virDomainGetVcpus(handle, &infos, Int32(infos.count), nil, 0) }
        return infos.prefix(Int(filled)).map { info in
            VCPUInfo(number: Int(info.number), state: VCPUInfo.State(rawValue: info.state) ?? .offline,
                     cpuTimeNanoseconds: UInt64(info.cpuTime), hostCPU: info.cpu >= 0 ? Int(info.cpu) : nil)
        }
    }

    /// Adds a device (`virDomainAttachDeviceFlags`).
    public func attachDevice(xml: String, _ impact: DomainModificationImpact) throws {
        try LibvirtError.status("virDomainAttachDeviceFlags") { virDomainAttachDeviceFlags(handle, xml, impact.rawValue) }
    }

    /// Removes a device (`virDomainDetachDeviceFlags`).
    public func detachDevice(xml: String, _ impact: DomainModificationImpact) throws {
        try LibvirtError.status("virDomainDetachDeviceFlags") { virDomainDetachDeviceFlags(handle, xml, impact.rawValue) }
    }

    public func suspend() throws {
        try LibvirtError.status("virDomainSuspend") { virDomainSuspend(handle) }
    }

    public func resume() throws {
        try LibvirtError.status("virDomainResume") { virDomainResume(handle) }
    }

    public func destroy() throws {
        try LibvirtError.status("virDomainDestroy") { virDomainDestroy(handle) }
    }

    /// Removes the persistent definition (`virDomainUndefineFlags`).
    public func undefine(_ flags: DomainUndefineFlags = []) throws {
        try LibvirtError.status("virDomainUndefineFlags") { virDomainUndefineFlags(handle, flags.rawValue) }
    }
}

/// Whether a change applies to the running domain, its persistent definition, or both
/// (`virDomainModificationImpact`).
public struct DomainModificationImpact: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let live = DomainModificationImpact(rawValue: VIR_DOMAIN_AFFECT_LIVE.rawValue)
    public static let config = DomainModificationImpact(rawValue: VIR_DOMAIN_AFFECT_CONFIG.rawValue)
}

/// `virVcpuInfo`.
public struct VCPUInfo: Sendable, Hashable {
    public enum State: Int32, Sendable, CustomStringConvertible {
        case offline = 0, running, blocked

        public var description: String {
            switch self {
            case .offline: "offline"
            case .running: "running"
            case .blocked: "blocked"
            }
        }
    }

    public let number: Int
    public let state: State
    public let cpuTimeNanoseconds: UInt64
    /// The host CPU it runs on; nil when it runs on none.
    public let hostCPU: Int?
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
    /// The XML a migration would send: without what the hypervisor added by itself.
    public static let migratable = DomainXMLFlags(rawValue: VIR_DOMAIN_XML_MIGRATABLE.rawValue)
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
