import FoundationEssentials

/// A request to create a guest: its spec, and whether to start it, paused or not.
public struct GuestCreation: Sendable, Hashable {
    public var spec: GuestSpec
    public var start: Bool
    public var paused: Bool

    /// Reads `{"spec": {...}, "start": true, "paused": false}`; the spec's errors point under `/spec`.
    public static func read(json data: some DataProtocol) -> (GuestCreation?, [FieldError]) {
        let json: JSON
        do { json = try JSONParser.parseLocating(Array(data)) } catch {
            return (nil, [FieldError(pointer: "", detail: error.description)])
        }
        let errors = FieldErrors()
        guard let reader = ObjectReader(json, pointer: "", errors: errors) else { return (nil, errors.errors) }
        let start = reader.bool("start") ?? true
        let paused = reader.bool("paused") ?? false
        guard let specJSON = reader.value("spec") else {
            errors.add("/spec", "is required")
            reader.finish()
            return (nil, errors.errors)
        }
        reader.finish()
        let (spec, specErrors) = GuestSpec.read(specJSON, pointer: "/spec")
        let all = errors.errors + specErrors
        return (spec.map { GuestCreation(spec: $0, start: start, paused: paused) }, all)
    }
}

/// One device to add to an existing domain: `{"disk": {...}}`, `{"interface": {...}}` or
/// `{"pci_device": {...}}`, checked by the same rules as in a guest spec and rendered by the
/// same builders.
public struct DeviceDefinition: Sendable {
    /// What the device is known by afterwards: a disk target, a MAC, or a PCI address.
    public var identifier: String
    public var element: Element
    public var xml: String { element.serialized() }
    /// The interface's firewall filter, to define before the device is attached.
    public var firewallFilter: (name: String, xml: String)?
    /// The interface, for the VIF checks.
    public var interface: InterfaceSpec?

    /// - Parameters:
    ///   - existingTargets: disk targets the domain has; a new disk takes a free one.
    ///   - existingMACs: MACs the domain has.
    ///   - uuid: the domain's UUID (a missing MAC is derived from it).
    public init(json data: some DataProtocol, existingTargets: Set<String>, existingMACs: Set<String>, uuid: String,
                policy: ValidationPolicy?) throws(GuestSpecError) {
        let json: JSON
        do { json = try JSONParser.parseLocating(Array(data)) } catch {
            throw GuestSpecError([FieldError(pointer: "", detail: error.description)])
        }
        let errors = FieldErrors()
        guard let reader = ObjectReader(json, pointer: "", errors: errors) else { throw GuestSpecError(errors.errors) }
        let kinds = ["disk", "interface", "pci_device"].filter { reader.has($0) }
        guard kinds.count == 1, let kind = kinds.first else {
            throw GuestSpecError([FieldError(pointer: "", detail: "must have exactly one of disk, interface, pci_device")])
        }
        var spec = GuestSpec(name: "device", uuid: uuid, memoryMB: 1)
        let listPointer: String
        switch kind {
        case "disk":
            guard var disk = reader.object("disk").map(DiskSpec.init(reader:)) else { throw GuestSpecError(errors.errors) }
            if disk.target == nil {
                let bus = disk.bus ?? (disk.device == "cdrom" ? "sata" : "virtio")
                let prefix = StorageConfig.prefix(bus: bus)
                var index = 0
                while existingTargets.contains(StorageConfig.name(prefix: prefix, index: index)) { index += 1 }
                disk.target = StorageConfig.name(prefix: prefix, index: index)
            } else if let target = disk.target, existingTargets.contains(target) {
                errors.add("/disk/target", "\(target) is already a disk of this domain")
            }
            spec.disks = [disk]
            listPointer = "/disks/0"
        case "interface":
            guard let interface = reader.object("interface").map(InterfaceSpec.init(reader:)) else {
                throw GuestSpecError(errors.errors)
            }
            if let mac = interface.mac?.lowercased(), existingMACs.contains(mac) {
                errors.add("/interface/mac", "\(mac) is already an interface of this domain")
            }
            spec.interfaces = [interface]
            listPointer = "/interfaces/0"
        default:
            guard let device = reader.object("pci_device").map(PCIDeviceSpec.init(reader:)) else {
                throw GuestSpecError(errors.errors)
            }
            spec.pciDevices = [device]
            listPointer = "/pci_devices/0"
        }
        reader.finish()
        let definition: GuestDefinition
        do {
            definition = try GuestDefinition(spec, policy: policy, readErrors: errors.errors)
        } catch {
            // Point into the request (`/disk/...`), not into the spec built around it.
            throw GuestSpecError(error.errors.map { error in
                var error = error
                if error.pointer.hasPrefix(listPointer) {
                    error.pointer = "/" + kind + error.pointer.dropFirst(listPointer.count)
                }
                return error
            })
        }
        switch kind {
        case "disk":
            let disk = definition.disks[0]
            identifier = disk.target
            element = DiskConfig.disk(disk)
        case "interface":
            var mac = definition.macs[0]
            // A derived MAC must not collide with one the domain has.
            var index = 1
            while spec.interfaces[0].mac == nil, existingMACs.contains(mac) {
                mac = GuestDefinition.derivedMAC(uuid: uuid, index: existingMACs.count + index)
                index += 1
            }
            identifier = mac
            interface = spec.interfaces[0]
            if let firewall = spec.interfaces[0].firewall, firewall.enabled {
                let name = FirewallConfig.filterName(uuid: uuid, mac: mac)
                firewallFilter = (name, FirewallConfig.filter(name: name, firewall: firewall).serialized())
            }
            element = InterfaceConfig.interface(spec.interfaces[0], mac: mac, firewallFilter: firewallFilter?.name)
        default:
            identifier = spec.pciDevices[0].address.lowercased()
            element = PCIDeviceConfig.hostdev(spec.pciDevices[0])!
        }
    }
}
