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
            let touchesResources = patch.vcpus != nil || patch.memoryMB != nil
            let impact: DomainModificationImpact = touchesMetadata || touchesResources ? try impact(inventory) : []
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
            let sides = touchesResources ? try await Self.resourceSides(guest, patch, impact) : []
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
                // Last, each side on its own: a running guest may refuse (a vCPU unplug needs
                // its cooperation), and then everything before is undone.
                for (side, resources) in sides {
                    if let memoryMB = patch.memoryMB {
                        let kibibytes = UInt64(memoryMB) * 1024
                        try await Self.change("memory_mb", side) { try await guest.setMemory(kibibytes: kibibytes, side) }
                        undo.register("memory_mb") {
                            (try? await guest.setMemory(kibibytes: resources.memoryKiB, side)) != nil
                        }
                    }
                }
                for (side, resources) in sides {
                    if let vcpus = patch.vcpus, vcpus != resources.vcpus {
                        try await Self.change("vcpus", side) { try await guest.setVCPUs(vcpus, side) }
                        undo.register("vcpus") { (try? await guest.setVCPUs(resources.vcpus, side)) != nil }
                    }
                }
            }
            return try await guest.details()
        }
    }

    /// Each side of the domain the patch changes (`.live`, `.config`) with its resources now,
    /// after checking the new sizes against each side's maximum: beyond it, a field error and
    /// nothing changed.
    static func resourceSides(_ guest: Guest, _ patch: DomainPatch, _ impact: DomainModificationImpact)
        async throws -> [(DomainModificationImpact, Guest.Resources)] {
        let (live, config) = try await guest.resources()
        var sides: [(DomainModificationImpact, Guest.Resources)] = []
        if impact.contains(.live), let live { sides.append((.live, live)) }
        if impact.contains(.config), let config { sides.append((.config, config)) }
        var errors: [FieldError] = []
        for (side, resources) in sides {
            let name = side == .live ? "the running domain's" : "the definition's"
            if let vcpus = patch.vcpus, vcpus > resources.maxVCPUs {
                errors.append(FieldError(pointer: "/vcpus", detail:
                    "must be at most \(resources.maxVCPUs), \(name) maximum (max_vcpus at creation), got \(vcpus)"))
            }
            if let memoryMB = patch.memoryMB, UInt64(memoryMB) * 1024 > resources.maxMemoryKiB {
                errors.append(FieldError(pointer: "/memory_mb", detail:
                    "must be at most \(resources.maxMemoryKiB / 1024), \(name) maximum (max_memory_mb at creation), got \(memoryMB)"))
            }
        }
        // Both sides usually share their maximum: say it once.
        var seen = Set<String>()
        errors = errors.filter { seen.insert($0.pointer).inserted }
        if !errors.isEmpty { throw GuestSpecError(errors) }
        return sides
    }

    /// Makes one change of a size; what libvirt refuses (a live vCPU unplug the guest cannot
    /// do, for one) is a field error naming the field and libvirt's reason.
    static func change(_ field: String, _ side: DomainModificationImpact,
                       _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch HostError.libvirt(let error) where !error.isConnectionLoss {
            throw GuestSpecError([FieldError(pointer: "/" + field, detail:
                "cannot be changed \(side == .live ? "on the running domain" : "in the definition"): \(error.message)")])
        }
    }
}
