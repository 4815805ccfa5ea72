import GuestConfig
import Libvirt

/// Why a volume cannot be resized here, beyond ``StorageError``.
public enum VolumeResizeError: Error, Sendable, CustomStringConvertible {
    /// Running domains have a disk on the volume: QEMU holds it open, and only the domain can
    /// grow it so that the guest sees the change (a live block resize).
    case attachedToRunningDomain(pool: String, volume: String, domains: [String])

    public var description: String {
        switch self {
        case .attachedToRunningDomain(let pool, let volume, let domains):
            "volume \(volume) of pool \(pool) is a disk of the running domain(s) \(domains.joined(separator: ", ")): "
                + "resize it through the domain's disk (a live block resize), not the volume"
        }
    }
}

extension Storage {
    /// Grows the volume to `capacityBytes` (`virStorageVolResize`). Smaller than it is now is
    /// a field error; the same size changes nothing. A volume a running domain has a disk on
    /// is refused: the check and the resize are one turn of the Host.
    public func resizeVolume(pool: String, name: String, _ resize: VolumeResize) async throws -> StorageVolumeDetails {
        let capacity = UInt64(resize.capacityBytes)
        switch try await host.resizeStorageVolume(pool: pool, volume: name, capacity: capacity) {
        case .resized: break
        case .refused(let error): throw error
        case .shrink(let current):
            throw GuestSpecError([FieldError(pointer: "/capacity_bytes",
                                             detail: "must be at least the volume's \(current) bytes: volumes only grow")])
        case .attached(let domains):
            throw VolumeResizeError.attachedToRunningDomain(pool: pool, volume: name, domains: domains)
        }
        return try await host.storageVolume(pool: pool, volume: name).get()
    }
}

extension Host {
    enum VolumeResizeAnswer: Sendable {
        case resized
        case refused(StorageError)
        case shrink(current: UInt64)
        case attached([String])
    }

    func resizeStorageVolume(pool name: String, volume: String, capacity: UInt64) throws(HostError) -> VolumeResizeAnswer {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            guard try pool.isActive() else { return .refused(.poolInactive(name)) }
            guard let found = try pool.lookupVolume(name: volume) else {
                return .refused(.volumeNotFound(pool: name, volume: volume))
            }
            let current = try found.info().capacity
            if capacity < current { return .shrink(current: current) }
            let users = try Self.runningUsers(path: try found.path(), pool: name, volume: volume, connection)
            guard users.isEmpty else { return .attached(users) }
            if capacity > current { try found.resize(capacity: capacity) }
            return .resized
        }
    }

    /// The running domains with a disk on the volume, by path or as `<disk type='volume'>`.
    private static func runningUsers(path: String, pool: String, volume: String, _ connection: Connection) throws
        -> [String] {
        var users: Set<String> = []
        for domain in try connection.listAllDomains() where try domain.isActive() {
            guard let root = try? XMLTree(try domain.xml(), root: "domain").root else { continue }
            for disk in root.child("devices")?.children("disk") ?? [] {
                guard let source = disk.child("source") else { continue }
                let byPath = (source.attribute("file") ?? source.attribute("dev")) == path
                let byName = source.attribute("pool") == pool && source.attribute("volume") == volume
                if byPath || byName { users.insert(try domain.name()) }
            }
        }
        return users.sorted()
    }
}
