import FoundationEssentials
import GuestConfig
import Libvirt

extension Provisioning {
    /// A device attached, and where it is found afterwards.
    public struct AttachedDevice: Sendable {
        public var details: DomainDetails
        public var uuid: String
        public var identifier: String
    }

    /// Attaches the device `json` describes to the guest `reference` names, under the
    /// domain's lock: the device is validated against the domain's current devices, its
    /// interface checked, its firewall filter defined (and removed again if the attach fails).
    /// `impact` turns the domain's inventory into libvirt's AFFECT flags.
    public func attachDevice(json: [UInt8], to reference: String,
                             impact: @Sendable (Guest.DeviceInventory) throws -> DomainModificationImpact)
        async throws -> AttachedDevice {
        let guest = try await host.guest(for: reference)
        return try await withLock(on: guest) { inventory in
            let device = try DeviceDefinition(json: json, existingTargets: inventory.targets,
                                              existingMACs: inventory.macs, uuid: inventory.uuid,
                                              policy: validationPolicy)
            let impact = try impact(inventory)
            // A host PCI device the domain has already: libvirt refuses it with an error of no
            // particular kind (a 500 otherwise). Disk targets and MACs are checked with the spec.
            if device.interface == nil, device.identifier.contains(":") {
                for inactive in [false, true] where impact.contains(inactive ? .config : .live) {
                    if try await guest.hasDevice(identifier: device.identifier, inactive: inactive) {
                        throw GuestSpecError([FieldError(pointer: "/pci_device/address",
                                                         detail: "the domain has the PCI device \(device.identifier) already")])
                    }
                }
            }
            let volumeErrors = try await GuestVolumes(host: host).checkAttached(diskXML: device.xml, pointer: "/disk/source")
            guard volumeErrors.isEmpty else { throw GuestSpecError(volumeErrors) }
            if let interface = device.interface {
                let errors = try await VIF(host: host).check([interface], pointer: "/interface")
                    .map { FieldError(pointer: $0.pointer.replacing("/interface/0", with: "/interface"),
                                      detail: $0.detail) }
                guard errors.isEmpty else { throw GuestSpecError(errors) }
            }
            return try await Undo.run("device attach", logger: logger) { undo in
                if let filter = device.firewallFilter {
                    guard await Firewall(host: host).baseFiltersPresent() else {
                        throw GuestSpecError([FieldError(pointer: "/interface/firewall",
                                                         detail: "libvirt has no clean-traffic filter; \(Firewall.installHint)")])
                    }
                    let existed = (try? await host.nwFilterExists(filter.name)) ?? true
                    try await host.defineNWFilter(xml: filter.xml)
                    if !existed {
                        undo.register("filter \(filter.name)") { [host] in
                            (try? await host.undefineNWFilter(filter.name)) != nil
                        }
                    }
                }
                let details: DomainDetails
                do {
                    details = try await guest.attachDevice(xml: device.xml, impact: impact)
                } catch HostError.libvirt(let refusal) where [27, 67].contains(refusal.code) {
                    // libvirt's parser refusing the device (VIR_ERR_XML_ERROR 27, or
                    // VIR_ERR_CONFIG_UNSUPPORTED 67) is the device asking for what libvirt does
                    // not take: a 422 at the device with libvirt's words, not a 500.
                    let pointer = device.interface != nil ? "/interface"
                        : device.identifier.contains(":") ? "/pci_device" : "/disk"
                    throw GuestSpecError([FieldError(pointer: pointer, detail: "libvirt refuses it: \(refusal.message)")])
                }
                return AttachedDevice(details: details, uuid: inventory.uuid, identifier: device.identifier)
            }
        }
    }

    /// Detaches the disk, interface (by MAC) or PCI device `identifier`, under the domain's
    /// lock. An interface's firewall filter goes with it once no copy of the domain (live or
    /// persistent) has the interface any more.
    public func detachDevice(_ identifier: String, from reference: String,
                             impact: @Sendable (Guest.DeviceInventory) throws -> DomainModificationImpact)
        async throws -> DomainDetails {
        let guest = try await host.guest(for: reference)
        return try await withLock(on: guest) { inventory in
            let impact = try impact(inventory)
            let details = try await guest.detachDevice(identifier: identifier, impact: impact)
            let goneEverywhere = (impact.contains(.live) || !inventory.active)
                && (impact.contains(.config) || !inventory.persistent)
            if goneEverywhere, identifier.count == 17, identifier.contains(":") {
                await Firewall(host: host).remove([FirewallConfig.filterName(uuid: inventory.uuid, mac: identifier)])
            }
            return details
        }
    }

    /// Runs `body` holding the guest's UUID and name, with its inventory read under the lock.
    func withLock<T>(on guest: Guest, _ body: (Guest.DeviceInventory) async throws -> T) async throws -> T {
        // The name is read before the lock and checked after: a rename in between retries.
        while true {
            let before = try await guest.deviceInventory()
            let result: T? = try await locks.withLock(DomainLocks.keys(uuid: guest.uuid, name: before.name)) {
                let inventory = try await guest.deviceInventory()
                guard inventory.name == before.name else { return nil }
                return try await body(inventory)
            }
            if let result { return result }
        }
    }
}
