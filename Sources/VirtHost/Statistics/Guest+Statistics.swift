import FoundationEssentials
import Libvirt

extension Guest {
    /// The domain's statistics of `groups` now: one `virDomainListGetStats` with NOWAIT, as
    /// for `/metrics`, so a domain busy with a long job answers with what needs no job lock
    /// rather than holding the Host's thread until the job ends.
    public func statistics(_ groups: Set<GuestStatistics.Group>) async throws(HostError) -> GuestStatistics {
        try await withDomain { domain in
            let libvirtGroups = groups.reduce(into: DomainStatsGroups()) { $0.insert($1.libvirtGroup) }
            let record = try domain.stats(libvirtGroups, flags: [.noWait])
            let sampledAt = Date()
            var parameters = record?.parameters ?? []
            // libvirt 9.0's QEMU driver gives `cpu.*` for a stopped domain too: the figures of
            // a process that is not the guest's (there is none). A stopped domain has none.
            if groups.contains(.cpu), try !domain.isActive() {
                parameters.removeAll { $0.field.hasPrefix("cpu.") }
            }
            return GuestStatistics(name: try domain.name(), uuid: try domain.uuid(), groups: groups,
                                   record: parameters, sampledAt: sampledAt)
        }
    }
}
