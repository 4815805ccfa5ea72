import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// One libvirt storage pool (`virStoragePoolPtr`), freed when the last reference goes.
/// Not `Sendable`, for the same reason as ``Connection``.
public final class StoragePool {
    let handle: virStoragePoolPtr

    /// Takes ownership of a pool reference the caller got from libvirt.
    init(taking handle: virStoragePoolPtr) { self.handle = handle }

    deinit { virStoragePoolFree(handle) }

    public func name() throws -> String {
        let name = try LibvirtError.call("virStoragePoolGetName") { virStoragePoolGetName(handle) }
        return String(cString: name)
    }

    public func uuid() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        try LibvirtError.status("virStoragePoolGetUUIDString") { virStoragePoolGetUUIDString(handle, &buffer) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func info() throws -> StoragePoolInfo {
        var info = virStoragePoolInfo()
        try LibvirtError.status("virStoragePoolGetInfo") { virStoragePoolGetInfo(handle, &info) }
        return StoragePoolInfo(state: StoragePoolState(rawValue: Int32(info.state)) ?? .inaccessible,
                               capacity: UInt64(info.capacity), allocation: UInt64(info.allocation),
                               available: UInt64(info.available))
    }

    public func isActive() throws -> Bool {
        try LibvirtError.status("virStoragePoolIsActive") { virStoragePoolIsActive(handle) } == 1
    }

    public func isPersistent() throws -> Bool {
        try LibvirtError.status("virStoragePoolIsPersistent") { virStoragePoolIsPersistent(handle) } == 1
    }

    public func autostart() throws -> Bool {
        var value: Int32 = 0
        try LibvirtError.status("virStoragePoolGetAutostart") { virStoragePoolGetAutostart(handle, &value) }
        return value != 0
    }

    public func setAutostart(_ autostart: Bool) throws {
        try LibvirtError.status("virStoragePoolSetAutostart") { virStoragePoolSetAutostart(handle, autostart ? 1 : 0) }
    }

    /// The pool XML (`virStoragePoolGetXMLDesc`).
    public func xml() throws -> String {
        let xml = try LibvirtError.call("virStoragePoolGetXMLDesc") { virStoragePoolGetXMLDesc(handle, 0) }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Makes the pool's underlying storage, e.g. a dir pool's directory (`virStoragePoolBuild`).
    public func build() throws {
        try LibvirtError.status("virStoragePoolBuild") { virStoragePoolBuild(handle, 0) }
    }

    /// Starts the pool (`virStoragePoolCreate`).
    public func create() throws {
        try LibvirtError.status("virStoragePoolCreate") { virStoragePoolCreate(handle, 0) }
    }

    /// Stops the pool; its data stays (`virStoragePoolDestroy`).
    public func destroy() throws {
        try LibvirtError.status("virStoragePoolDestroy") { virStoragePoolDestroy(handle) }
    }

    /// Removes the pool's underlying storage, e.g. an empty dir pool's directory (`virStoragePoolDelete`).
    public func delete() throws {
        try LibvirtError.status("virStoragePoolDelete") { virStoragePoolDelete(handle, 0) }
    }

    public func undefine() throws {
        try LibvirtError.status("virStoragePoolUndefine") { virStoragePoolUndefine(handle) }
    }

    /// Rescans the pool's volumes (`virStoragePoolRefresh`).
    public func refresh() throws {
        try LibvirtError.status("virStoragePoolRefresh") { virStoragePoolRefresh(handle, 0) }
    }

    /// Every volume of the pool, in one `virStoragePoolListAllVolumes` call.
    public func listAllVolumes() throws -> [StorageVolume] {
        var list: UnsafeMutablePointer<virStorageVolPtr?>?
        let count = try LibvirtError.status("virStoragePoolListAllVolumes") { virStoragePoolListAllVolumes(handle, &list, 0) }
        return takeAll(list, count: count, StorageVolume.init(taking:))
    }

    /// The volume of this name; nil when the pool has none (`virStorageVolLookupByName`).
    public func lookupVolume(name: String) throws -> StorageVolume? {
        try LibvirtError.call("virStorageVolLookupByName", absentWhen: VIR_ERR_NO_STORAGE_VOL) {
            virStorageVolLookupByName(handle, name)
        }.map(StorageVolume.init(taking:))
    }

    /// Creates a volume from XML (`virStorageVolCreateXML`).
    public func createVolume(xml: String) throws -> StorageVolume {
        let volume = try LibvirtError.call("virStorageVolCreateXML") { virStorageVolCreateXML(handle, xml, 0) }
        return StorageVolume(taking: volume)
    }
}

/// `virStoragePoolState`.
public enum StoragePoolState: Int32, Sendable, CustomStringConvertible {
    case inactive = 0, building = 1, running = 2, degraded = 3, inaccessible = 4

    public var description: String {
        switch self {
        case .inactive: "inactive"
        case .building: "building"
        case .running: "running"
        case .degraded: "degraded"
        case .inaccessible: "inaccessible"
        }
    }
}

/// `virStoragePoolInfo`, sizes in bytes.
public struct StoragePoolInfo: Sendable, Hashable {
    public var state: StoragePoolState
    public var capacity: UInt64
    public var allocation: UInt64
    public var available: UInt64
}

extension Connection {
    /// Every storage pool, active or not, in one `virConnectListAllStoragePools` call.
    public func listAllStoragePools() throws -> [StoragePool] {
        var list: UnsafeMutablePointer<virStoragePoolPtr?>?
        let count = try LibvirtError.status("virConnectListAllStoragePools") { virConnectListAllStoragePools(handle, &list, 0) }
        return takeAll(list, count: count, StoragePool.init(taking:))
    }

    /// The pool of this name; nil when there is none (`virStoragePoolLookupByName`).
    public func lookupStoragePool(name: String) throws -> StoragePool? {
        try LibvirtError.call("virStoragePoolLookupByName", absentWhen: VIR_ERR_NO_STORAGE_POOL) {
            virStoragePoolLookupByName(handle, name)
        }.map(StoragePool.init(taking:))
    }

    /// Defines a persistent pool from XML (`virStoragePoolDefineXML`); it is not started.
    public func defineStoragePool(xml: String) throws -> StoragePool {
        let pool = try LibvirtError.call("virStoragePoolDefineXML") { virStoragePoolDefineXML(handle, xml, 0) }
        return StoragePool(taking: pool)
    }

    /// The volume at this path, in whichever pool holds it; nil when none does.
    public func lookupStorageVolume(path: String) throws -> StorageVolume? {
        try LibvirtError.call("virStorageVolLookupByPath", absentWhen: VIR_ERR_NO_STORAGE_VOL) {
            virStorageVolLookupByPath(handle, path)
        }.map(StorageVolume.init(taking:))
    }
}
