import GuestConfig
import Libvirt

extension Provisioning {
    /// Applies a merge patch of a domain's settings under its lock, as one sequence: the
    /// patch was checked whole before (``DomainPatch/read(json:)``), the domain's state is
    /// checked before the first change, and if a later change fails the earlier ones are
    /// undone, so nothing is half-applied. Returns the domain afterwards.
    public func patchDomain(_ reference: String, _ patch: DomainPatch,
                            impact: @Sendable (Guest.DeviceInventory) throws -> DomainModificationImpact)
        async throws -> DomainDetails {
        let guest = try await host.guest(for: reference)
        return try await withLock(on: guest) { inventory in
            let touchesMetadata = patch.title != nil || patch.description != nil || !patch.labels.isEmpty
                || patch.removesAllLabels
            let impact: DomainModificationImpact = touchesMetadata ? try impact(inventory) : []
            if patch.autostart != nil, !inventory.persistent {
                throw HostError.invalidState(action: "set autostart of", state: "transient")
            }
            if impact.contains(.config), !inventory.persistent {
                throw HostError.invalidState(action: "change the definition of", state: "transient")
            }
            let current = try await guest.settings()
            let labels = patch.labels(applyingTo: current.labels)
            if labels.count > DomainPatch.maximumLabels, labels.count > current.labels.count {
                throw GuestSpecError([FieldError(pointer: "/labels", detail:
                    "a domain has at most \(DomainPatch.maximumLabels) labels; this patch would leave \(labels.count)")])
            }
            try await Undo.run("domain patch", logger: logger) { undo in
                if let autostart = patch.autostart, autostart != current.autostart {
                    try await guest.setAutostart(autostart)
                    undo.register("autostart") { (try? await guest.setAutostart(current.autostart)) != nil }
                }
                if let title = patch.title, title != current.title {
                    try await guest.setMetadata(.title, title, impact)
                    undo.register("title") { (try? await guest.setMetadata(.title, current.title, impact)) != nil }
                }
                if let description = patch.description, description != current.description {
                    try await guest.setMetadata(.description, description, impact)
                    undo.register("description") {
                        (try? await guest.setMetadata(.description, current.description, impact)) != nil
                    }
                }
                if labels != current.labels {
                    try await guest.setLabels(labels, impact)
                    undo.register("labels") { (try? await guest.setLabels(current.labels, impact)) != nil }
                }
            }
            return try await guest.details()
        }
    }
}
