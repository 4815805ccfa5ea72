import Libvirt

/// One domain as `GET /v1/domains` lists it.
public struct DomainSummary: Sendable, Hashable, Encodable {
    public var name: String
    public var uuid: String
    /// The hypervisor's id; nil when the domain is not running.
    @NullWhenAbsent public var id: UInt32?
    /// libvirt's state name (`running`, `shutoff`...).
    public var state: String
    public var powerState: PowerState
    public var vcpus: Int
    public var memoryMB: UInt64
    public var maxMemoryMB: UInt64
    public var persistent: Bool
    public var autostart: Bool
    /// The service's labels (``DomainLabels``).
    public var labels: [String: String]

    enum CodingKeys: String, CodingKey {
        case name, uuid, id, state, vcpus, persistent, autostart, labels
        case powerState = "power_state"
        case memoryMB = "memory_mb"
        case maxMemoryMB = "max_memory_mb"
    }

    /// Reads a domain's summary: its persistence, autostart and info, no XML.
    init(_ domain: Domain) throws {
        // Transient domains have no autostart setting; some drivers refuse to say.
        try self.init(domain, name: try domain.name(), id: domain.id(), persistent: try domain.isPersistent(),
                      autostart: (try? domain.autostart()) ?? false)
    }

    /// Reads a domain's summary with its name, id, persistence and autostart already known:
    /// its info and UUID. Labels are the caller's to read (the listing reads them; `/metrics`
    /// has no use for them).
    init(_ domain: Domain, name: String, id: UInt32?, persistent: Bool, autostart: Bool,
         labels: [String: String] = [:]) throws {
        let info = try domain.info()
        self.name = name
        uuid = try domain.uuid()
        self.id = id
        state = info.state.description
        powerState = PowerState(info.state)
        vcpus = info.vcpus
        memoryMB = info.memoryKiB / 1024
        maxMemoryMB = info.maxMemoryKiB / 1024
        self.persistent = persistent
        self.autostart = autostart
        self.labels = labels
    }
}
