import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// One libvirt storage volume (`virStorageVolPtr`), freed when the last reference goes.
/// Not `Sendable`, for the same reason as ``Connection``.
public final class StorageVolume {
    let handle: virStorageVolPtr

    /// Takes ownership of a volume reference the caller got from libvirt.
    init(taking handle: virStorageVolPtr) { self.handle = handle }

    deinit { virStorageVolFree(handle) }

    public func name() throws -> String {
        let name = try LibvirtError.call("virStorageVolGetName") { virStorageVolGetName(handle) }
        return String(cString: name)
    }

    /// The volume's key, unique on the host (for a file, its path).
    public func key() throws -> String {
        let key = try LibvirtError.call("virStorageVolGetKey") { virStorageVolGetKey(handle) }
        return String(cString: key)
    }

    public func path() throws -> String {
        let path = try LibvirtError.call("virStorageVolGetPath") { virStorageVolGetPath(handle) }
        defer { free(path) }
        return String(cString: path)
    }

    public func info() throws -> StorageVolumeInfo {
        var info = virStorageVolInfo()
        try LibvirtError.status("virStorageVolGetInfo") { virStorageVolGetInfo(handle, &info) }
        return StorageVolumeInfo(type: StorageVolumeType(rawValue: info.type) ?? .file,
                                 capacity: UInt64(info.capacity), allocation: UInt64(info.allocation))
    }

    /// The pool that holds the volume (`virStoragePoolLookupByVolume`).
    public func pool() throws -> StoragePool {
        StoragePool(taking: try LibvirtError.call("virStoragePoolLookupByVolume") { virStoragePoolLookupByVolume(handle) })
    }

    /// The volume XML (`virStorageVolGetXMLDesc`).
    public func xml() throws -> String {
        let xml = try LibvirtError.call("virStorageVolGetXMLDesc") { virStorageVolGetXMLDesc(handle, 0) }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Removes the volume and its data (`virStorageVolDelete`).
    public func delete() throws {
        try LibvirtError.status("virStorageVolDelete") { virStorageVolDelete(handle, 0) }
    }

    /// Sets the volume's capacity to `capacity` bytes, growing it only (`virStorageVolResize`
    /// without `VIR_STORAGE_VOL_RESIZE_SHRINK`, which libvirt refuses to go below).
    public func resize(capacity: UInt64) throws {
        try LibvirtError.status("virStorageVolResize") { virStorageVolResize(handle, capacity, 0) }
    }
}

/// `virStorageVolType`.
public enum StorageVolumeType: Int32, Sendable, CustomStringConvertible {
    case file = 0, block = 1, dir = 2, network = 3, netdir = 4, ploop = 5

    public var description: String {
        switch self {
        case .file: "file"
        case .block: "block"
        case .dir: "dir"
        case .network: "network"
        case .netdir: "netdir"
        case .ploop: "ploop"
        }
    }
}

/// `virStorageVolInfo`, sizes in bytes.
public struct StorageVolumeInfo: Sendable, Hashable {
    public var type: StorageVolumeType
    public var capacity: UInt64
    public var allocation: UInt64
}

extension LibvirtError {
    /// The storage pool does not exist.
    public var isNoStoragePool: Bool { code == Int32(VIR_ERR_NO_STORAGE_POOL.rawValue) }
    /// The storage volume does not exist.
    public var isNoStorageVolume: Bool { code == Int32(VIR_ERR_NO_STORAGE_VOL.rawValue) }
}
