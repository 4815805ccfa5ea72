import GuestConfig
import Libvirt

extension Provisioning {
    /// Defines (and starts, when asked) a guest from a validated definition. Nothing of a
    /// failed create stays.
    ///
    /// The steps, under the lock of the spec's UUID and name: what the interfaces attach to
    /// must exist and the firewall must be able to protect them; the name and UUID must be
    /// free; the volumes the service makes are made, the first-boot disk too; the firewall filters are defined; the domain is defined; it is started. Of two
    /// creates with one UUID, the second waits for the first, then finds its domain and gets
    /// ``HostError/domainExists(_:)`` having made nothing, so the first's filters stay.
    public func createGuest(_ definition: GuestDefinition, name: String, start: Bool, paused: Bool) async throws
        -> DomainDetails {
        let interfaces = definition.spec.interfaces
        let firewall = Firewall(host: host)
        // Checks that make nothing, outside the lock: a bad spec never waits.
        let networkErrors = try await VIF(host: host).check(interfaces, pointer: "/spec/interfaces")
            + (await firewall.check(definition, pointer: "/spec/interfaces"))
        guard networkErrors.isEmpty else { throw GuestSpecError(networkErrors) }
        let filters = GuestXML.firewallFilters(definition)
        let xml = GuestXML.xml(definition)
        return try await locks.withLock(DomainLocks.keys(uuid: definition.uuid, name: name)) {
            try await Undo.run("guest creation", logger: logger) { undo in
                if let existing = try await host.run({ host throws(HostError) in
                    try host.existingDomain(name: name, uuid: definition.uuid)
                }) {
                    throw HostError.domainExists(existing)
                }
                // The volumes the spec asks the service to make, before anything refers to them.
                let volumes = GuestVolumes(host: host)
                try await volumes.make(ManagedVolumes.plan(definition.spec, pool: volumes.instancesPool), undo: &undo)
                // The first-boot disk, from the spec's first_boot.
                try await FirstBootDisk(host: host).make(definition, undo: &undo)
                for filter in filters {
                    // A filter that exists already (an orphan of an earlier domain with this
                    // UUID) is redefined but not ours to remove.
                    let existed = (try? await host.nwFilterExists(filter.name)) ?? true
                    try await host.defineNWFilter(xml: filter.xml)
                    if !existed {
                        undo.register("filter \(filter.name)") { [host] in
                            (try? await host.undefineNWFilter(filter.name)) != nil
                        }
                    }
                }
                let guest = try await host.run { host throws(HostError) in
                    try host.define(xml: xml, name: name, uuid: definition.uuid)
                }
                undo.register("definition of \(name)") { await guest.discard() }
                if start {
                    do {
                        try await guest.launch(paused: paused)
                    } catch {
                        // A start that half-happened (started, then could not pause) is undone too.
                        let left = await undo.rollback()
                        let rolledBack = !left.contains { $0.hasPrefix("definition") }
                        logger.warning("guest did not start; its definition was removed", metadata: [
                            "domain": "\(name)", "error": "\(error)", "rolled_back": "\(rolledBack)",
                        ])
                        guard case HostError.libvirt(let libvirt) = error else { throw error }
                        throw HostError.stepFailed(step: "start", error: libvirt, rolledBack: rolledBack)
                    }
                }
                logger.info("guest created", metadata: ["domain": "\(name)", "uuid": "\(guest.uuid)",
                                                        "started": "\(start)"])
                return try await guest.details()
            }
        }
    }
}
