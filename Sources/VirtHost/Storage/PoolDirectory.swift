import Libvirt

/// The storage pool whose directory holds a path, on any connection (the Host's, a dedicated
/// one, another host's). libvirt finds a volume by path only among the files its pool has
/// listed; a file put in the pool's directory by other means is listed once the pool refreshes.
enum PoolDirectory {
    /// The active pool whose target directory is the one `path` is in.
    static func pool(holding path: String, on connection: Connection) throws -> StoragePool? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        for pool in try connection.listAllStoragePools() where try pool.isActive() {
            if try XMLTree(try pool.xml(), root: "pool").root.at("target", "path")?.text == directory { return pool }
        }
        return nil
    }

    /// The volume at `path`, in whichever pool holds it; when none has it listed, the pool of
    /// its directory is refreshed (a refresh only reads) and asked again.
    static func volume(at path: String, on connection: Connection) throws -> StorageVolume? {
        if let volume = try connection.lookupStorageVolume(path: path) { return volume }
        guard let pool = try pool(holding: path, on: connection) else { return nil }
        try pool.refresh()
        return try pool.lookupVolume(name: String(path[path.index(after: path.lastIndex(of: "/")!)...]))
    }
}
