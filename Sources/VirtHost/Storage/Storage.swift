import FoundationEssentials
import Glibc
import GuestConfig
import Libvirt
import Logging

/// Storage pools and volumes, given the Host: each request is a few turns of the Host, and
/// creating a pool is a sequence whose steps are undone when a later one fails.
public struct Storage: Sendable {
    public let host: Host

    public init(host: Host) { self.host = host }

    /// Where pools' directories may be: the same rule as guests' disk paths.
    public var validationPolicy: ValidationPolicy { Provisioning(host: host).validationPolicy }

    public func pools() async throws -> [StoragePoolDetails] {
        try await host.storagePools()
    }

    public func pool(_ name: String) async throws -> StoragePoolDetails {
        try await host.storagePool(name).get()
    }

    /// Defines, builds, starts and autostarts a directory pool. A failed step undoes the
    /// earlier ones; a directory that existed before is never removed.
    public func createPool(_ creation: PoolCreation) async throws -> StoragePoolDetails {
        let name = creation.name
        let directoryExisted = Self.exists(creation.path)
        return try await Undo.run("create storage pool \(name)", logger: host.logger) { undo in
            try await host.defineStoragePool(name: name, path: creation.path, xml: creation.element.serialized()).get()
            undo.register("define") { [host] in
                (try? await host.withStoragePool(name) { try $0.undefine() }.get()) != nil
            }
            try await step(name) { try $0.build() }
            if !directoryExisted {
                undo.register("build") { [host] in
                    (try? await host.withStoragePool(name) { try $0.delete() }.get()) != nil
                }
            }
            try await step(name) { try $0.create() }
            undo.register("start") { [host] in
                (try? await host.withStoragePool(name) { try $0.destroy() }.get()) != nil
            }
            try await step(name) { try $0.setAutostart(true) }
            return try await host.storagePool(name).get()
        }
    }

    /// Stops and undefines the pool; refused while it holds volumes. Its directory stays.
    public func deletePool(_ name: String) async throws {
        try await host.removeStoragePool(name).get()
    }

    /// Rescans the pool's directory for volumes made by other means.
    public func refreshPool(_ name: String) async throws -> StoragePoolDetails {
        guard try await host.withStoragePool(name, { try $0.isActive() }).get() else { throw StorageError.poolInactive(name) }
        try await step(name) { try $0.refresh() }
        return try await host.storagePool(name).get()
    }

    public func volumes(pool: String) async throws -> [StorageVolumeDetails] {
        try await host.storageVolumes(pool: pool).get()
    }

    public func volume(pool: String, name: String) async throws -> StorageVolumeDetails {
        try await host.storageVolume(pool: pool, volume: name).get()
    }

    /// Creates an empty volume, or a qcow2 overlay on another volume (Nova's qcow2 image
    /// backend). Without a capacity, an overlay is as large as its backing volume; it may
    /// not be smaller.
    public func createVolume(pool: String, _ creation: VolumeCreation) async throws -> StorageVolumeDetails {
        var base: StorageVolumeDetails?
        if let backing = creation.backing {
            // A field of the body that names nothing is the body's error (422), not a missing
            // resource of the path (404).
            do {
                base = try await host.storageVolume(pool: backing.pool, volume: backing.volume).get()
            } catch StorageError.poolNotFound, StorageError.poolInactive {
                throw GuestSpecError([FieldError(pointer: "/backing/pool", detail: "no running storage pool \(backing.pool)")])
            } catch StorageError.volumeNotFound {
                throw GuestSpecError([FieldError(pointer: "/backing/volume",
                                                 detail: "pool \(backing.pool) has no volume \(backing.volume)")])
            }
        }
        let capacity = creation.capacityBytes.map(UInt64.init) ?? base?.capacityBytes ?? 0
        if let base, capacity < base.capacityBytes {
            throw GuestSpecError([FieldError(pointer: "/capacity_bytes",
                                             detail: "must be at least the backing volume's \(base.capacityBytes) bytes")])
        }
        let xml = creation.element(capacityBytes: Int(capacity), backingPath: base?.path,
                                   backingFormat: base?.format).serialized()
        return try await host.createStorageVolume(pool: pool, volume: creation.name, xml: xml).get()
    }

    /// Deletes the volume; refused while a domain has a disk on it.
    public func deleteVolume(pool: String, name: String) async throws {
        try await host.deleteStorageVolume(pool: pool, volume: name).get()
    }

    private func step(_ name: String, _ body: @Sendable (StoragePool) throws -> Void) async throws {
        try await host.withStoragePool(name, body).get()
    }

    private static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }
}
