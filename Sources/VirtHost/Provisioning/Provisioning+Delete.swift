import GuestConfig
import Libvirt

extension Provisioning {
    /// Removes the guest `reference` names (see ``Guest/undefine(force:)``) and then its
    /// firewall filters, under the domain's lock, so a create with its UUID cannot come in
    /// between and have its new filters removed. A filter that cannot be removed stays as an
    /// orphan, which `GET /v1/firewall/filters` reports.
    ///
    /// The volumes the service made for the guest (recorded in its definition) are removed
    /// after it when `deleteVolumes`, and stay otherwise; the answer says which went and which
    /// stayed.
    @discardableResult
    public func deleteGuest(_ reference: String, force: Bool, deleteVolumes: Bool = false) async throws
        -> GuestVolumes.Outcome {
        let guest = try await host.guest(for: reference)
        return try await withLock(on: guest) { inventory in
            let volumes = GuestVolumes(host: host)
            let owned = try await volumes.owned(by: guest)
            try await guest.undefine(force: force)
            logger.info("guest deleted", metadata: ["domain": "\(inventory.name)", "uuid": "\(guest.uuid)"])
            try? await Firewall(host: host).removeFilters(ofDomain: guest.uuid)
            return try await volumes.remove(owned, delete: deleteVolumes)
        }
    }
}
