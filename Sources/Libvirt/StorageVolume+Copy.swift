import CLibvirt

/// Copying and wiping volumes: calls that block for as long as the data takes, so they are
/// made on a dedicated connection (README, "Threading model").
extension StoragePool {
    /// Creates a volume from `xml` holding a copy of `source`'s data
    /// (`virStorageVolCreateXMLFrom`); blocks until the copy is done.
    public func createVolume(xml: String, from source: StorageVolume) throws -> StorageVolume {
        let volume = try LibvirtError.call("virStorageVolCreateXMLFrom") {
            virStorageVolCreateXMLFrom(handle, xml, source.handle, 0)
        }
        return StorageVolume(taking: volume)
    }
}

extension StorageVolume {
    /// Overwrites the volume's data with zeros (`virStorageVolWipe`); blocks until done.
    public func wipe() throws {
        try LibvirtError.status("virStorageVolWipe") { virStorageVolWipe(handle, 0) }
    }
}
