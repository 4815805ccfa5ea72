import CLibvirt

/// A domain's disks changed in place: grown, or a removable medium changed.
extension Domain {
    /// Grows the running domain's disk `disk` (its target, `vda`) to `bytes`
    /// (`virDomainBlockResize` with `VIR_DOMAIN_BLOCK_RESIZE_BYTES`): QEMU grows the image and
    /// the guest sees the new size.
    public func blockResize(_ disk: String, bytes: UInt64) throws {
        _ = try LibvirtError.status("virDomainBlockResize") {
            virDomainBlockResize(handle, disk, bytes, UInt32(VIR_DOMAIN_BLOCK_RESIZE_BYTES.rawValue))
        }
    }

    /// Replaces the device `xml` matches by its target (`virDomainUpdateDeviceFlags`): for a
    /// CD-ROM, its medium. `force` ejects even when the guest has locked the tray
    /// (`VIR_DOMAIN_DEVICE_MODIFY_FORCE`).
    public func updateDevice(xml: String, _ impact: DomainModificationImpact, force: Bool = false) throws {
        let flags = impact.rawValue | (force ? UInt32(VIR_DOMAIN_DEVICE_MODIFY_FORCE.rawValue) : 0)
        _ = try LibvirtError.status("virDomainUpdateDeviceFlags") { virDomainUpdateDeviceFlags(handle, xml, flags) }
    }
}
