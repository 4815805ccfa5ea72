/// A storage pool as the API shows it.
public struct StoragePoolDetails: Sendable, Hashable, Encodable {
    public var name: String
    public var uuid: String
    public var type: String
    public var state: String
    public var persistent: Bool
    public var autostart: Bool
    @NullWhenAbsent public var path: String?
    public var capacityBytes: UInt64
    public var allocationBytes: UInt64
    public var availableBytes: UInt64

    enum CodingKeys: String, CodingKey {
        case name, uuid, type, state, persistent, autostart, path
        case capacityBytes = "capacity_bytes"
        case allocationBytes = "allocation_bytes"
        case availableBytes = "available_bytes"
    }
}

/// A storage volume as the API shows it; `usedBy` names the domains (running or not) with a
/// disk on it.
public struct StorageVolumeDetails: Sendable, Hashable, Encodable {
    public struct Backing: Sendable, Hashable, Encodable {
        public var path: String
        @NullWhenAbsent public var format: String?
    }

    public var name: String
    public var key: String
    public var path: String
    public var type: String
    @NullWhenAbsent public var format: String?
    public var capacityBytes: UInt64
    public var allocationBytes: UInt64
    @NullWhenAbsent public var backing: Backing?
    public var usedBy: [String]

    enum CodingKeys: String, CodingKey {
        case name, key, path, type, format, backing
        case capacityBytes = "capacity_bytes"
        case allocationBytes = "allocation_bytes"
        case usedBy = "used_by"
    }
}

/// Why a storage request cannot be done; the host's own errors stay ``HostError``.
public enum StorageError: Error, Sendable, CustomStringConvertible {
    case poolNotFound(String)
    case volumeNotFound(pool: String, volume: String)
    case poolExists(String)
    /// Another pool has this target path already.
    case poolPathInUse(path: String, pool: String)
    case volumeExists(pool: String, volume: String)
    /// The pool is not running, so its volumes cannot be listed or made.
    case poolInactive(String)
    /// The pool still holds volumes; the service never deletes data implicitly.
    case poolNotEmpty(pool: String, volumes: [String])
    /// Domains have a disk on the volume, or other volumes (`pool/volume`) are overlays on it.
    case volumeInUse(pool: String, volume: String, domains: [String], overlays: [String])

    public var description: String {
        switch self {
        case .poolNotFound(let pool): "no storage pool \(pool)"
        case .volumeNotFound(let pool, let volume): "pool \(pool) has no volume \(volume)"
        case .poolExists(let pool): "a storage pool named \(pool) exists already"
        case .poolPathInUse(let path, let pool): "storage pool \(pool) has the path \(path) already"
        case .volumeExists(let pool, let volume): "pool \(pool) has a volume \(volume) already"
        case .poolInactive(let pool): "storage pool \(pool) is not running"
        case .poolNotEmpty(let pool, let volumes):
            "storage pool \(pool) holds \(volumes.count) volume(s): \(volumes.joined(separator: ", "))"
        case .volumeInUse(let pool, let volume, let domains, let overlays):
            "volume \(volume) of pool \(pool) is used by "
                + (domains.map { "domain \($0)" } + overlays.map { "overlay \($0)" }).joined(separator: ", ")
        }
    }
}
