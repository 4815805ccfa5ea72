import GuestConfig
import Libvirt

/// Guests' disks on storage volumes, given the Host: checks a spec's `volume` disks and the
/// roles the service makes (``ManagedVolumes``) against the host before anything is made,
/// makes those volumes as steps of a guest's creation, and reads and removes the volumes a
/// guest owns.
public struct GuestVolumes: Sendable {
    public let host: Host

    public init(host: Host) { self.host = host }

    /// The pool the service makes guests' volumes in.
    public var instancesPool: String { host.configuration.instancesPool }

    /// The spec with its managed roles turned into `volume` disks in the instances pool, and
    /// each `volume` disk without a format given the volume's own; with a field error (under
    /// `pointer`) for each pool, volume or image that does not exist, each size smaller than
    /// its image, and each volume to be made whose name is taken. Makes nothing.
    public func resolve(_ spec: GuestSpec, pointer: String) async throws -> (GuestSpec, [FieldError]) {
        var errors: [FieldError] = []
        let resolved = ManagedVolumes.resolve(spec, pool: instancesPool)
        var formats: [String: String] = [:]
        let firstBoot = ManagedVolumes.firstBootVolume(resolved)
        for (disk, at) in StorageConfig.orderedDisks(resolved) {
            guard !ManagedVolumes.isManaged(disk), let source = disk.volumeSource, source != firstBoot,
                  source.refusals(at: "").isEmpty else { continue }
            switch try await lookup(source, at: pointer + at + "/source") {
            case .success(let volume): formats[at] = volume.format == "qcow2" ? "qcow2" : "raw"
            case .failure(let error): errors.append(error)
            }
        }
        let plan = ManagedVolumes.plan(resolved, pool: instancesPool)
        // Asked only when needed: a spec without such roles costs no extra libvirt call.
        let pool = plan.isEmpty && firstBoot == nil ? nil : try await host.storagePool(instancesPool)
        for volume in plan {
            let at = pointer + volume.pointer
            if let image = volume.image, image.refusals(at: "").isEmpty {
                switch try await lookup(image, at: at + "/image") {
                case .success(let base):
                    if let capacity = volume.capacityBytes, UInt64(capacity) < base.capacityBytes {
                        errors.append(FieldError(pointer: at + "/size_gb",
                                                 detail: "must be at least the image's \(base.capacityBytes) bytes"))
                    }
                case .failure(let error): errors.append(error)
                }
            }
            guard case .done(let details)? = pool, details.state == "running" else { continue }
            if case .done = try await host.storageVolume(pool: instancesPool, volume: volume.name) {
                errors.append(FieldError(pointer: at, detail: "the instances pool \(instancesPool) has a volume "
                                             + "\(volume.name) already (left by an earlier guest of this name?)"))
            }
        }
        if let firstBoot, case .done(let details)? = pool, details.state == "running",
           case .done = try await host.storageVolume(pool: firstBoot.pool, volume: firstBoot.volume) {
            errors.append(FieldError(pointer: pointer + "/first_boot", detail: "the instances pool \(instancesPool) has a "
                                         + "volume \(firstBoot.volume) already (left by an earlier guest of this name?)"))
        }
        let withFormats = ManagedVolumes.mapDisks(resolved) { disk, at in
            guard disk.format == nil, let format = formats[at] else { return disk }
            var disk = disk
            disk.format = format
            return disk
        }
        return (withFormats, errors)
    }

    /// For a disk to be attached (its `<disk>` XML): a field error under `pointer` when it is
    /// a volume disk whose pool or volume does not exist. libvirt takes such a disk into a
    /// definition without looking, and refuses it only when the domain starts.
    func checkAttached(diskXML xml: String, pointer: String) async throws -> [FieldError] {
        guard let disk = try? XMLTree(xml, root: "disk").root, disk.attribute("type") == "volume",
              let source = disk.child("source"), let pool = source.attribute("pool"),
              let volume = source.attribute("volume") else { return [] }
        let reference = VolumeReference(pool: pool, volume: volume)
        guard reference.refusals(at: "").isEmpty else { return [] }
        if case .failure(let error) = try await lookup(reference, at: pointer) { return [error] }
        return []
    }

    /// Makes the volumes of a resolved spec, each step registering its undo: the instances
    /// pool first when it is missing (a dir pool on the instances path), then each volume.
    func make(_ plan: [ManagedVolumes.Volume], undo: inout Undo) async throws {
        guard let first = plan.first else { return }
        try await ensurePool(first.pool, undo: &undo)
        let storage = Storage(host: host)
        for volume in plan {
            let creation = VolumeCreation(name: volume.name, capacityBytes: volume.capacityBytes, format: "qcow2",
                                          backing: volume.image.map { .init(pool: $0.pool, volume: $0.volume) })
            _ = try await storage.createVolume(pool: volume.pool, creation)
            undo.register("volume \(volume.pool)/\(volume.name)") { [host] in
                (try? await host.deleteStorageVolume(pool: volume.pool, volume: volume.name).get()) != nil
            }
        }
    }

    /// Makes `pool` when it is missing (the instances pool, a dir pool on the instances path),
    /// registering its undo.
    func ensurePool(_ pool: String, undo: inout Undo) async throws {
        guard case .refused(.poolNotFound) = try await host.storagePool(pool) else { return }
        _ = try await Storage(host: host).createPool(PoolCreation(name: pool, path: host.configuration.instancesPath))
        host.logger.info("instances pool created", metadata: ["pool": "\(pool)",
                                                             "path": "\(host.configuration.instancesPath)"])
        // Undefined again only while empty, which it is once the volumes' undos have run.
        undo.register("instances pool \(pool)") { [host] in
            (try? await host.removeStoragePool(pool).get()) != nil
        }
    }

    /// What became of the volumes a deleted guest owned.
    public struct Outcome: Sendable, Hashable, Encodable {
        public struct Volume: Sendable, Hashable, Encodable {
            public var pool: String
            public var volume: String
        }

        /// Removed with the guest (`?volumes=owned`), or found gone already.
        public var deletedVolumes: [Volume] = []
        /// Left on the host: not asked to remove them, or another domain uses them.
        public var keptVolumes: [Volume] = []

        public var isEmpty: Bool { deletedVolumes.isEmpty && keptVolumes.isEmpty }

        enum CodingKeys: String, CodingKey {
            case deletedVolumes = "deleted_volumes"
            case keptVolumes = "kept_volumes"
        }
    }

    /// The volumes the guest's definition records as made by the service for it.
    func owned(by guest: Guest) async throws -> [VolumeReference] {
        let xml = try await guest.withDomain { domain in
            try domain.xml(try domain.isPersistent() ? .inactive : [])
        }
        // A document that does not parse records nothing the service can act on.
        let metadata = (try? XMLTree(xml, root: "domain"))?.root.child("metadata")
        let element = metadata?.childElements.first { child in
            child.attributes.contains { $0.name.hasPrefix("xmlns") && $0.value == ManagedVolumes.namespace }
        }
        return (element?.childElements ?? []).compactMap { volume in
            guard volume.name.hasSuffix("volume"), let pool = volume.attribute("pool"),
                  let name = volume.attribute("name") else { return nil }
            return VolumeReference(pool: pool, volume: name)
        }
    }

    /// Removes the volumes (when `delete`), after their guest is gone; a volume another domain
    /// uses, or another volume is an overlay on, stays.
    func remove(_ volumes: [VolumeReference], delete: Bool) async throws -> Outcome {
        var outcome = Outcome()
        for volume in volumes {
            let entry = Outcome.Volume(pool: volume.pool, volume: volume.volume)
            guard delete else {
                outcome.keptVolumes.append(entry)
                continue
            }
            switch try await host.deleteStorageVolume(pool: volume.pool, volume: volume.volume) {
            case .done, .refused(.volumeNotFound), .refused(.poolNotFound):
                outcome.deletedVolumes.append(entry)
            case .refused(let error):
                host.logger.warning("a volume the guest owned stays", metadata: ["volume": "\(volume.pool)/\(volume.volume)",
                                                                                 "reason": "\(error)"])
                outcome.keptVolumes.append(entry)
            }
        }
        return outcome
    }

    private func lookup(_ reference: VolumeReference, at pointer: String) async throws -> Found {
        switch try await host.storageVolume(pool: reference.pool, volume: reference.volume) {
        case .done(let details): return .success(details)
        case .refused(.poolNotFound(let pool)):
            return .failure(FieldError(pointer: pointer + "/pool", detail: "no storage pool \(pool)"))
        case .refused(.poolInactive(let pool)):
            return .failure(FieldError(pointer: pointer + "/pool", detail: "storage pool \(pool) is not running"))
        case .refused(let error):
            return .failure(FieldError(pointer: pointer + "/volume", detail: error.description))
        }
    }
}

/// A lookup's answer: the volume, or the field error saying why it is not there.
private enum Found {
    case success(StorageVolumeDetails)
    case failure(FieldError)
}
