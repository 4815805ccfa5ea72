import GuestConfig
import Libvirt

extension Provisioning {
    /// Grows the disk `target` of the guest `reference` names to `resize.capacityBytes`, under
    /// the domain's lock. A running domain's disk grows through QEMU (`virDomainBlockResize`),
    /// so the guest sees the new size at once; a stopped domain's disk grows through libvirt's
    /// storage API, where it is a volume of a pool (a `volume` disk, or a file a pool holds).
    /// Disks only grow: a smaller size is a field error, the same size changes nothing.
    public func resizeDisk(_ target: String, of reference: String, _ resize: VolumeResize) async throws -> DiskSize {
        let guest = try await host.guest(for: reference)
        return try await withLock(on: guest) { inventory in
            let capacity = UInt64(resize.capacityBytes)
            guard let disk = try await guest.disk(target: target, inactive: !inventory.active) else {
                throw HostError.deviceNotFound(target)
            }
            guard disk.device == "disk" || disk.device == "lun" else {
                throw DiskChangeError.notResizable(target: target, reason: "a \(disk.device)'s size is its medium's")
            }
            if inventory.active {
                let current = try await guest.blockInfo(target: target).capacity
                if capacity < current { throw Self.shrinkRefusal(current: current) }
                if capacity > current { try await guest.blockResize(target: target, bytes: capacity) }
            } else {
                let volume: VolumeReference? = if let volume = disk.volume {
                    volume
                } else if let path = disk.path {
                    try await host.volumeReference(path: path)
                } else {
                    nil
                }
                guard let volume else {
                    throw DiskChangeError.notResizable(
                        target: target, reason: "the domain is not running and the disk is no volume of a storage pool; "
                            + "start the domain (QEMU grows a running domain's disk) or put the image in a pool")
                }
                // A smaller size is the same field error at /capacity_bytes as for a volume.
                let grown = try await Storage(host: host).resizeVolume(pool: volume.pool, name: volume.volume, resize)
                if disk.volume != nil {
                    // libvirt resolves a stopped domain's `volume` disk only when it starts, so
                    // virDomainGetBlockInfo cannot read it yet: the image itself is read, as
                    // libvirt would (on the Host's thread, like every read of a disk).
                    let info = try await host.run { _ throws(HostError) in
                        DiskImage.blockInfo(path: grown.path, format: grown.format)
                    }
                    return DiskSize(target: target, info ?? BlockInfo(capacity: grown.capacityBytes,
                                                                      allocation: grown.allocationBytes,
                                                                      physical: grown.allocationBytes))
                }
            }
            return DiskSize(target: target, try await guest.blockInfo(target: target))
        }
    }

    static func shrinkRefusal(current: UInt64) -> GuestSpecError {
        GuestSpecError([FieldError(pointer: "/capacity_bytes",
                                   detail: "must be at least the disk's \(current) bytes: disks only grow")])
    }
}

extension Host {
    /// The pool and name of the volume at `path`, when a pool holds it. A file put in a dir
    /// pool's directory by other means is found too: that pool is refreshed and asked again.
    func volumeReference(path: String) throws(HostError) -> VolumeReference? {
        try withConnection { connection in
            try PoolDirectory.volume(at: path, on: connection).map { volume in
                VolumeReference(pool: try volume.pool().name(), volume: try volume.name())
            }
        }
    }
}
