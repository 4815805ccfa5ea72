import GuestConfig
import Libvirt
#if canImport(Glibc)
import Glibc
#endif

/// The short libvirt turns around an upload (the bytes themselves move on a dedicated
/// connection, see ``VolumeTransfer``): each one turn of the Host, so what it checks (a name
/// free, a volume unused) still holds when the same turn acts on it.
extension Host {
    /// Checks that the upload may go to `volume` and makes the staging volume the bytes go to
    /// first, under a name no caller can give (it starts with `.`).
    func stageUpload(pool name: String, volume: String, overwrite: Bool, staging: String, xml: String) throws(HostError)
        -> StorageOutcome<Void> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            guard try pool.isActive() else { return .refused(.poolInactive(name)) }
            if let existing = try pool.lookupVolume(name: volume) {
                guard overwrite else { return .refused(.volumeExists(pool: name, volume: volume)) }
                if let refusal = try Self.inUse(existing, pool: name, volume: volume, connection) {
                    return .refused(refusal)
                }
            }
            _ = try pool.createVolume(xml: xml)
            return .done(())
        }
    }

    /// What libvirt sees in the staging volume once its bytes are in: its format and backing.
    func inspectStaged(pool name: String, staging: String) throws(HostError) -> StorageOutcome<StorageVolumeDetails> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            // The format libvirt reports is probed from the file's header on a refresh.
            try pool.refresh()
            guard let staged = try pool.lookupVolume(name: staging) else {
                return .refused(.volumeNotFound(pool: name, volume: staging))
            }
            return .done(try Self.details(of: staged, pool: name, users: [:]))
        }
    }

    /// Puts the staged file in place under the volume's name (one `rename`, so a reader sees
    /// the old content or the new, never half of it), unless the name was taken or the old
    /// volume came into use meanwhile. Then the pool is refreshed so libvirt knows the result.
    func commitUpload(pool name: String, volume: String, overwrite: Bool, staging: String) throws(HostError)
        -> StorageOutcome<StorageVolumeDetails> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            guard let staged = try pool.lookupVolume(name: staging) else {
                return .refused(.volumeNotFound(pool: name, volume: staging))
            }
            let stagedPath = try staged.path()
            let target: String
            if let existing = try pool.lookupVolume(name: volume) {
                guard overwrite else { return .refused(.volumeExists(pool: name, volume: volume)) }
                if let refusal = try Self.inUse(existing, pool: name, volume: volume, connection) {
                    return .refused(refusal)
                }
                target = try existing.path()
            } else {
                // A dir pool's volume is the file of that name in the pool's directory.
                target = String(stagedPath[..<(stagedPath.lastIndex(of: "/") ?? stagedPath.startIndex)]) + "/" + volume
            }
            guard rename(stagedPath, target) == 0 else {
                let reason = String(cString: strerror(errno))
                throw LibvirtError(code: -1, domain: -1, message: "cannot move \(stagedPath) to \(target): \(reason)")
            }
            try pool.refresh()
            guard let placed = try pool.lookupVolume(name: volume) else {
                return .refused(.volumeNotFound(pool: name, volume: volume))
            }
            return .done(try Self.details(of: placed, pool: name, users: try Self.diskUsers(connection)))
        }
    }

    /// Removes a staging volume after a failed upload; false when it could not be.
    func discardStaged(pool name: String, staging: String) -> Bool {
        do {
            return try withConnection { connection in
                guard let pool = try connection.lookupStoragePool(name: name) else { return false }
                guard let staged = try pool.lookupVolume(name: staging) else { return true }
                try staged.delete()
                return true
            }
        } catch {
            return false
        }
    }

    /// What a download may read: the volume's stored size (a qcow2 file's, not its capacity).
    func downloadableSize(pool name: String, volume: String) throws(HostError) -> StorageOutcome<UInt64> {
        try withConnection { connection in
            switch try Self.lookup(connection, pool: name, volume: volume) {
            case .refused(let error): return .refused(error)
            case .done(let found): return .done(try found.physicalSize())
            }
        }
    }

    /// Why `volume` may not be replaced: domains with a disk on it, or overlays on it.
    private static func inUse(_ volume: StorageVolume, pool: String, volume name: String, _ connection: Connection)
        throws -> StorageError? {
        let users = try Self.users(of: volume, pool: pool, in: try Self.diskUsers(connection))
        let overlays = try Self.overlays(on: try volume.path(), connection)
        guard users.isEmpty, overlays.isEmpty else {
            return .volumeInUse(pool: pool, volume: name, domains: users, overlays: overlays)
        }
        return nil
    }
}
