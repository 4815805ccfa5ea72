import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// One libvirt connection (`virConnectPtr`), closed when the last reference goes.
///
/// Not `Sendable`: one owner (the Host actor) makes every call, so errors are read on the
/// thread that failed and the handle never crosses threads unguarded.
public final class Connection {
    let handle: virConnectPtr
    public let uri: String
    /// The close callback's handler. This object owns it, not libvirt: a driver without close
    /// callbacks (the test driver) accepts a registration and keeps nothing, so a reference
    /// handed to libvirt with a free callback was never released (one leaked per connection,
    /// found by LeakSanitizer).
    private var closeHandler: CloseHandler?
    /// Domain event registrations, undone before the connection closes.
    var eventCallbackIDs: [Int32] = []

    /// Why libvirt closed a connection under its owner (`virConnectCloseReason`).
    public enum CloseReason: Int32, Sendable, CustomStringConvertible {
        case error = 0, endOfFile = 1, keepalive = 2, client = 3

        public var description: String {
            switch self {
            case .error: "misc I/O error"
            case .endOfFile: "end of file from the server"
            case .keepalive: "keepalive timer triggered"
            case .client: "closed by the client"
            }
        }
    }

    /// Opens `uri` (`virConnectOpen`, or `virConnectOpenReadOnly` when `readOnly`).
    public init(uri: String, readOnly: Bool = false) throws {
        try Libvirt.initialize()
        handle = try LibvirtError.call("virConnectOpen(\(uri))") {
            readOnly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri)
        }
        self.uri = uri
    }

    deinit {
        for id in eventCallbackIDs { virConnectDomainEventDeregisterAny(handle, id) }
        if closeHandler != nil {
            // Otherwise libvirt would report our own close to the callback. libvirt calls the
            // callback and unregisters it under one lock, so once this returns no call is in
            // progress or can start, and the handler may go with this object.
            virConnectUnregisterCloseCallback(handle, Connection.closeTrampoline)
        }
        virConnectClose(handle)
    }

    // MARK: Host facts

    public func hostname() throws -> String {
        let name = try LibvirtError.call("virConnectGetHostname") { virConnectGetHostname(handle) }
        defer { free(name) }
        return String(cString: name)
    }

    /// The driver's hypervisor type, e.g. `QEMU` or `TEST`.
    public func hypervisorType() throws -> String {
        let type = try LibvirtError.call("virConnectGetType") { virConnectGetType(handle) }
        return String(cString: type)
    }

    /// The hypervisor's version (`virConnectGetVersion`).
    public func hypervisorVersion() throws -> LibvirtVersion {
        var version: UInt = 0
        try LibvirtError.status("virConnectGetVersion") { virConnectGetVersion(handle, &version) }
        return LibvirtVersion(code: UInt64(version))
    }

    /// The version of libvirt serving the connection (`virConnectGetLibVersion`).
    public func libraryVersion() throws -> LibvirtVersion {
        var version: UInt = 0
        try LibvirtError.status("virConnectGetLibVersion") { virConnectGetLibVersion(handle, &version) }
        return LibvirtVersion(code: UInt64(version))
    }

    public func nodeInfo() throws -> NodeInfo {
        var info = virNodeInfo()
        try LibvirtError.status("virNodeGetInfo") { virNodeGetInfo(handle, &info) }
        return NodeInfo(info)
    }

    /// The capabilities XML document.
    public func capabilities() throws -> String {
        let xml = try LibvirtError.call("virConnectGetCapabilities") { virConnectGetCapabilities(handle) }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Present and online host CPUs from libvirt's CPU map (`virNodeGetCPUMap`).
    public func cpuMap() throws -> (present: Int, online: Int) {
        var online: UInt32 = 0
        let present = try LibvirtError.status("virNodeGetCPUMap") { virNodeGetCPUMap(handle, nil, &online, 0) }
        return (Int(present), Int(online))
    }

    /// The host's memory statistics over all NUMA cells, in KiB by name (`total`, `free`,
    /// `buffers`, `cached`), from `virNodeGetMemoryStats`.
    public func nodeMemoryStats() throws -> [String: UInt64] {
        let allCells = Int32(VIR_NODE_MEMORY_STATS_ALL_CELLS.rawValue)
        var count: Int32 = 0
        try LibvirtError.status("virNodeGetMemoryStats") { virNodeGetMemoryStats(handle, allCells, nil, &count, 0) }
        var stats = [virNodeMemoryStats](repeating: virNodeMemoryStats(), count: Int(count))
        guard count > 0 else { return [:] }
        try LibvirtError.status("virNodeGetMemoryStats") { virNodeGetMemoryStats(handle, allCells, &stats, &count, 0) }
        var result: [String: UInt64] = [:]
        for var stat in stats.prefix(Int(count)) {
            let field = withUnsafeBytes(of: &stat.field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            result[field] = UInt64(stat.value)
        }
        return result
    }

    /// The domain capabilities XML for an emulator, architecture, machine and virt type;
    /// nil parts let libvirt choose (`virConnectGetDomainCapabilities`).
    public func domainCapabilities(emulator: String? = nil, arch: String? = nil, machine: String? = nil,
                                   virtType: String? = nil) throws -> String {
        let xml = try LibvirtError.call("virConnectGetDomainCapabilities") { virConnectGetDomainCapabilities(handle, emulator, arch, machine, virtType, 0) }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Free memory on the host, in bytes (`virNodeGetFreeMemory`).
    public func freeMemory() throws -> UInt64 {
        let free = virNodeGetFreeMemory(handle)
        if free == 0 { throw LibvirtError.capture("virNodeGetFreeMemory") }
        return free
    }

    /// How a guest CPU definition compares with what this host's hypervisor can give
    /// (`virConnectCompareHypervisorCPU`); nil parts let libvirt choose.
    public func compareHypervisorCPU(xml: String, emulator: String? = nil, arch: String? = nil, machine: String? = nil,
                                     virtType: String? = nil) throws -> CPUComparison {
        let result = virConnectCompareHypervisorCPU(handle, emulator, arch, machine, virtType, xml, 0)
        if result == VIR_CPU_COMPARE_ERROR.rawValue { throw LibvirtError.capture("virConnectCompareHypervisorCPU") }
        return CPUComparison(rawValue: result) ?? .incompatible
    }

    /// Whether libvirt still considers the connection usable (`virConnectIsAlive`).
    public func isAlive() -> Bool { virConnectIsAlive(handle) == 1 }

    /// Turns on libvirt's keepalive for remote connections (`virConnectSetKeepAlive`).
    /// Returns false when the driver has no keepalive (local drivers), which is not an error.
    public func setKeepAlive(interval: Int32, count: UInt32) throws -> Bool {
        switch try LibvirtError.status("virConnectSetKeepAlive", { virConnectSetKeepAlive(handle, interval, count) }) {
        case 0: return true
        default: return false
        }
    }

    // MARK: Domains

    /// Every domain matching `filter`, in one `virConnectListAllDomains` call.
    public func listAllDomains(_ filter: DomainListFilter = []) throws -> [Domain] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let count = try LibvirtError.status("virConnectListAllDomains") { virConnectListAllDomains(handle, &list, filter.rawValue) }
        return takeAll(list, count: count, Domain.init(taking:))
    }

    /// Statistics of every domain matching `flags`, in one `virConnectGetAllDomainStats` call.
    public func allDomainStats(_ groups: DomainStatsGroups, flags: DomainStatsFlags = []) throws -> [DomainStatsRecord] {
        var records: UnsafeMutablePointer<virDomainStatsRecordPtr?>?
        let count = try LibvirtError.status("virConnectGetAllDomainStats") { virConnectGetAllDomainStats(handle, groups.rawValue, &records, flags.rawValue) }
        guard let records else { return [] }
        defer { virDomainStatsRecordListFree(records) }
        return (0..<Int(count)).compactMap { index in
            guard let record = records[index]?.pointee, let domain = record.dom else { return nil }
            // The list owns its domain references; take one of our own.
            guard virDomainRef(domain) == 0 else { return nil }
            return DomainStatsRecord(domain: Domain(taking: domain),
                                     parameters: TypedParameter.array(record.params, count: Int(record.nparams)))
        }
    }

    /// Defines (or redefines) a persistent domain from XML (`virDomainDefineXMLFlags`).
    public func defineDomain(xml: String, flags: DomainDefineFlags = []) throws -> Domain {
        let domain = try LibvirtError.call("virDomainDefineXMLFlags") { virDomainDefineXMLFlags(handle, xml, flags.rawValue) }
        return Domain(taking: domain)
    }

    /// Creates and starts a transient domain from XML (`virDomainCreateXML`): it is gone
    /// once it stops.
    public func createTransientDomain(xml: String) throws -> Domain {
        let domain = try LibvirtError.call("virDomainCreateXML") { virDomainCreateXML(handle, xml, 0) }
        return Domain(taking: domain)
    }

    public func lookupDomain(name: String) throws -> Domain {
        let domain = try LibvirtError.call("virDomainLookupByName") { virDomainLookupByName(handle, name) }
        return Domain(taking: domain)
    }

    public func lookupDomain(uuid: String) throws -> Domain {
        let domain = try LibvirtError.call("virDomainLookupByUUIDString") { virDomainLookupByUUIDString(handle, uuid) }
        return Domain(taking: domain)
    }

    // MARK: Close callback

    private final class CloseHandler {
        let onClose: @Sendable (CloseReason) -> Void
        init(_ onClose: @escaping @Sendable (CloseReason) -> Void) { self.onClose = onClose }
    }

    private static let closeTrampoline: virConnectCloseFunc = { _, reason, opaque in
        guard let opaque else { return }
        let handler = Unmanaged<CloseHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.onClose(CloseReason(rawValue: reason) ?? .error)
    }

    /// Registers the one close callback of this connection. libvirt calls it on its event
    /// loop thread when the connection is closed under its owner; it must only hand the
    /// news over. Needs the libvirt event loop (``EventLoop``) to be running.
    public func onClose(_ body: @escaping @Sendable (CloseReason) -> Void) throws {
        let handler = CloseHandler(body)
        let opaque = Unmanaged.passUnretained(handler).toOpaque()
        try LibvirtError.status("virConnectRegisterCloseCallback") { virConnectRegisterCloseCallback(handle, Connection.closeTrampoline, opaque, nil) }
        closeHandler = handler
    }
}

/// `virDomainDefineFlags`.
public struct DomainDefineFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Check the XML against libvirt's schema before defining.
    public static let validate = DomainDefineFlags(rawValue: VIR_DOMAIN_DEFINE_VALIDATE.rawValue)
}

/// Which domains `virConnectListAllDomains` returns (`virConnectListAllDomainsFlags`).
public struct DomainListFilter: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let active = DomainListFilter(rawValue: VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue)
    public static let inactive = DomainListFilter(rawValue: VIR_CONNECT_LIST_DOMAINS_INACTIVE.rawValue)
    public static let persistent = DomainListFilter(rawValue: VIR_CONNECT_LIST_DOMAINS_PERSISTENT.rawValue)
    public static let transient = DomainListFilter(rawValue: VIR_CONNECT_LIST_DOMAINS_TRANSIENT.rawValue)
    public static let running = DomainListFilter(rawValue: VIR_CONNECT_LIST_DOMAINS_RUNNING.rawValue)
    public static let paused = DomainListFilter(rawValue: VIR_CONNECT_LIST_DOMAINS_PAUSED.rawValue)
    public static let shutoff = DomainListFilter(rawValue: VIR_CONNECT_LIST_DOMAINS_SHUTOFF.rawValue)
    public static let autostart = DomainListFilter(rawValue: VIR_CONNECT_LIST_DOMAINS_AUTOSTART.rawValue)
}

/// `virCPUCompareResult`.
public enum CPUComparison: Int32, Sendable, CustomStringConvertible {
    case incompatible = 0, identical = 1, superset = 2

    public var description: String {
        switch self {
        case .incompatible: "incompatible"
        case .identical: "identical"
        case .superset: "superset"
        }
    }
}
