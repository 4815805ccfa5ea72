import GuestConfig
import Libvirt

extension Provisioning {
    /// Removes the guest `reference` names (see ``Guest/undefine(force:)``) and then its
    /// firewall filters, under the domain's lock, so a create with its UUID cannot come in
    /// between and have its new filters removed. A filter that cannot be removed stays as an
    /// orphan, which `GET /v1/firewall/filters` reports.
    public func deleteGuest(_ reference: String, force: Bool) async throws {
        let guest = try await host.guest(for: reference)
        try await withLock(on: guest) { inventory in
            try await guest.undefine(force: force)
            logger.info("guest deleted", metadata: ["domain": "\(inventory.name)", "uuid": "\(guest.uuid)"])
            try? await Firewall(host: host).removeFilters(ofDomain: guest.uuid)
        }
    }
}
