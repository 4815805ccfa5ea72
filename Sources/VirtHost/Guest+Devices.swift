import Libvirt

/// Devices: what a new one must not collide with, attaching and detaching.
extension Guest {
    /// What a new device must not collide with, and where it applies by default.
    public struct DeviceInventory: Sendable {
        public var uuid: String
        public var name: String
        public var targets: Set<String>
        public var macs: Set<String>
        public var active: Bool
        public var persistent: Bool
    }

    public func deviceInventory() async throws(HostError) -> DeviceInventory {
        try await withDomain { domain in
            let description = try DomainDescription(xml: try domain.xml())
            return DeviceInventory(uuid: try domain.uuid(), name: try domain.name(),
                                   targets: Set(description.disks.compactMap(\.target)),
                                   macs: Set(description.interfaces.compactMap { $0.mac?.lowercased() }),
                                   active: try domain.isActive(), persistent: try domain.isPersistent())
        }
    }

    /// Whether the live XML (or with `inactive`, the definition) has the device `identifier`
    /// names: a disk target, a MAC or a PCI address.
    public func hasDevice(identifier: String, inactive: Bool) async throws(HostError) -> Bool {
        try await withDomain { domain in
            let xml = try domain.xml(inactive ? [.inactive] : [])
            return (try? DomainDescription.deviceXML(in: xml, identifier: identifier)) != nil
        }
    }

    @discardableResult
    public func attachDevice(xml: String, impact: DomainModificationImpact) async throws(HostError) -> DomainDetails {
        try await withDomain { try $0.attachDevice(xml: xml, impact) }
        return try await details()
    }

    /// Removes the disk with target `identifier`, the interface with that MAC, or the PCI
    /// device at that address.
    public func detachDevice(identifier: String, impact: DomainModificationImpact) async throws(HostError)
        -> DomainDetails {
        try await withDomain { domain in
            let xml = try domain.xml(impact.contains(.live) ? [] : [.inactive])
            guard let device = try DomainDescription.deviceXML(in: xml, identifier: identifier) else {
                throw HostError.deviceNotFound(identifier)
            }
            try domain.detachDevice(xml: device, impact)
        }
        return try await details()
    }
}
