import Libvirt

/// The libvirt calls of ``Storage``, each one turn of the Host, so what a request checks
/// (a name free, a volume unused) still holds when the same turn acts on it.
extension Host.StorageOutcome: Sendable where Value: Sendable {}

extension Host {
    /// What a storage turn found, for ``Storage`` to turn into an answer or a ``StorageError``.
    enum StorageOutcome<Value> {
        case done(Value)
        case refused(StorageError)

        func get() throws(StorageError) -> Value {
            switch self {
            case .done(let value): return value
            case .refused(let error): throw error
            }
        }
    }

    func storagePools() throws(HostError) -> [StoragePoolDetails] {
        try withConnection { connection in
            // A pool undefined between the listing and its reading (by another client) is left out.
            try connection.listAllStoragePools().compactMap { pool -> StoragePoolDetails? in
                do { return try Self.details(of: pool) }
                catch let error as LibvirtError where error.isNoStoragePool { return nil }
            }.sorted { $0.name < $1.name }
        }
    }

    func storagePool(_ name: String) throws(HostError) -> StorageOutcome<StoragePoolDetails> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            return .done(try Self.details(of: pool))
        }
    }

    /// Defines the pool unless one of that name, or one on that path, exists.
    func defineStoragePool(name: String, path: String, xml: String) throws(HostError) -> StorageOutcome<Void> {
        try withConnection { connection in
            if try connection.lookupStoragePool(name: name) != nil { return .refused(.poolExists(name)) }
            if let other = try connection.listAllStoragePools().map(Self.details(of:)).first(where: { $0.path == path }) {
                return .refused(.poolPathInUse(path: path, pool: other.name))
            }
            _ = try connection.defineStoragePool(xml: xml)
            return .done(())
        }
    }

    /// One step on an existing pool (build, start, autostart, refresh, stop, undefine).
    func withStoragePool<T: Sendable>(_ name: String, _ body: (StoragePool) throws -> T) throws(HostError)
        -> StorageOutcome<T> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            return .done(try body(pool))
        }
    }

    /// Stops and undefines the pool unless it holds volumes; its storage stays.
    func removeStoragePool(_ name: String) throws(HostError) -> StorageOutcome<Void> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            if try pool.isActive() {
                try pool.refresh()
                let volumes = try pool.listAllVolumes().map { try $0.name() }.sorted()
                guard volumes.isEmpty else { return .refused(.poolNotEmpty(pool: name, volumes: volumes)) }
                try pool.destroy()
            }
            if try pool.isPersistent() { try pool.undefine() }
            return .done(())
        }
    }

    func storageVolumes(pool name: String) throws(HostError) -> StorageOutcome<[StorageVolumeDetails]> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            guard try pool.isActive() else { return .refused(.poolInactive(name)) }
            let users = try Self.diskUsers(connection)
            // A volume deleted between the listing and its reading (by another client) is left out.
            return .done(try pool.listAllVolumes().compactMap { volume -> StorageVolumeDetails? in
                do { return try Self.details(of: volume, pool: name, users: users) }
                catch let error as LibvirtError where error.isNoStorageVolume { return nil }
            }.sorted { $0.name < $1.name })
        }
    }

    func storageVolume(pool name: String, volume: String) throws(HostError) -> StorageOutcome<StorageVolumeDetails> {
        try withConnection { connection in
            switch try Self.lookup(connection, pool: name, volume: volume) {
            case .refused(let error): return .refused(error)
            case .done(let found):
                return .done(try Self.details(of: found, pool: name, users: try Self.diskUsers(connection)))
            }
        }
    }

    /// Creates a volume from `xml` unless the pool has one of that name.
    func createStorageVolume(pool name: String, volume: String, xml: String) throws(HostError)
        -> StorageOutcome<StorageVolumeDetails> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            guard try pool.isActive() else { return .refused(.poolInactive(name)) }
            if try pool.lookupVolume(name: volume) != nil { return .refused(.volumeExists(pool: name, volume: volume)) }
            let created = try pool.createVolume(xml: xml)
            return .done(try Self.details(of: created, pool: name, users: [:]))
        }
    }

    /// Deletes the volume unless a domain has a disk on it.
    func deleteStorageVolume(pool name: String, volume: String) throws(HostError) -> StorageOutcome<Void> {
        try withConnection { connection in
            switch try Self.lookup(connection, pool: name, volume: volume) {
            case .refused(let error): return .refused(error)
            case .done(let found):
                let users = try Self.users(of: found, pool: name, in: try Self.diskUsers(connection))
                let overlays = try Self.overlays(on: try found.path(), connection)
                guard users.isEmpty, overlays.isEmpty else {
                    return .refused(.volumeInUse(pool: name, volume: volume, domains: users, overlays: overlays))
                }
                try found.delete()
                return .done(())
            }
        }
    }

    // MARK: Reading what libvirt has

    static func lookup(_ connection: Connection, pool name: String, volume: String) throws
        -> StorageOutcome<StorageVolume> {
        guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
        guard try pool.isActive() else { return .refused(.poolInactive(name)) }
        guard let found = try pool.lookupVolume(name: volume) else {
            return .refused(.volumeNotFound(pool: name, volume: volume))
        }
        return .done(found)
    }

    private static func details(of pool: StoragePool) throws -> StoragePoolDetails {
        let info = try pool.info()
        let root = try XMLTree(try pool.xml(), root: "pool").root
        return StoragePoolDetails(name: try pool.name(), uuid: try pool.uuid(), type: root.attribute("type") ?? "",
                                  state: info.state.description, persistent: try pool.isPersistent(),
                                  autostart: try pool.autostart(), path: root.at("target", "path")?.text,
                                  capacityBytes: info.capacity, allocationBytes: info.allocation,
                                  availableBytes: info.available)
    }

    static func details(of volume: StorageVolume, pool: String, users: [DiskReference: [String]]) throws
        -> StorageVolumeDetails {
        let info = try volume.info()
        let root = try XMLTree(try volume.xml(), root: "volume").root
        let backing = root.child("backingStore").flatMap { store in
            store.child("path")?.text.map {
                StorageVolumeDetails.Backing(path: $0, format: store.child("format")?.attribute("type"))
            }
        }
        return StorageVolumeDetails(name: try volume.name(), key: try volume.key(), path: try volume.path(),
                                    type: info.type.description, format: root.at("target", "format")?.attribute("type"),
                                    capacityBytes: info.capacity, allocationBytes: info.allocation, backing: backing,
                                    usedBy: try Self.users(of: volume, pool: pool, in: users))
    }

    /// What a domain's disk names as its source: a path, or a pool and volume.
    enum DiskReference: Hashable {
        case path(String)
        case volume(pool: String, name: String)
    }

    /// Every domain's disks, running or not, by source. A running domain's live XML is read
    /// (what it uses now) and, when it has one, its persistent definition (what it will use).
    static func diskUsers(_ connection: Connection) throws -> [DiskReference: [String]] {
        var users: [DiskReference: Set<String>] = [:]
        for domain in try connection.listAllDomains() {
            let name = try domain.name()
            var documents: [String]
            do {
                documents = [try domain.xml()]
                if try domain.isActive(), try domain.isPersistent() { documents.append(try domain.xml(.inactive)) }
            } catch let error as LibvirtError where error.isNoDomain {
                continue // undefined since it was listed: it uses nothing any more
            }
            for document in documents {
                guard let root = try? XMLTree(document, root: "domain").root else { continue }
                for disk in root.child("devices")?.children("disk") ?? [] {
                    guard let source = disk.child("source") else { continue }
                    if let path = source.attribute("file") ?? source.attribute("dev") {
                        users[.path(path), default: []].insert(name)
                    }
                    if let pool = source.attribute("pool"), let volume = source.attribute("volume") {
                        users[.volume(pool: pool, name: volume), default: []].insert(name)
                    }
                }
            }
        }
        return users.mapValues { $0.sorted() }
    }

    /// Volumes of running pools (`pool/volume`) whose backing file is `path`: deleting it
    /// would leave them unreadable.
    static func overlays(on path: String, _ connection: Connection) throws -> [String] {
        var result: [String] = []
        for pool in try connection.listAllStoragePools() where try pool.isActive() {
            let poolName = try pool.name()
            for volume in try pool.listAllVolumes() {
                guard let root = try? XMLTree(try volume.xml(), root: "volume").root,
                      root.at("backingStore", "path")?.text == path else { continue }
                result.append("\(poolName)/\(try volume.name())")
            }
        }
        return result.sorted()
    }

    static func users(of volume: StorageVolume, pool: String, in users: [DiskReference: [String]]) throws
        -> [String] {
        let byPath = users[.path(try volume.path())] ?? []
        let byName = users[.volume(pool: pool, name: try volume.name())] ?? []
        return Array(Set(byPath + byName)).sorted()
    }
}
