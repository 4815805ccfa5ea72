import GuestConfig
import Libvirt

extension Provisioning {
    /// Inserts `media` into the CD-ROM drive `target` of the guest `reference` names, or with
    /// nil ejects its medium, under the domain's lock (`virDomainUpdateDeviceFlags`). The drive
    /// must be a CD-ROM (or floppy) on every side `impact` names; the drive's element is
    /// libvirt's own with only its source changed. `force` ejects a tray the guest has locked.
    public func changeMedia(of target: String, in reference: String, to media: DiskMedia?, force: Bool,
                            impact: @Sendable (Guest.DeviceInventory) throws -> DomainModificationImpact)
        async throws -> DomainDetails {
        let guest = try await host.guest(for: reference)
        return try await withLock(on: guest) { inventory in
            let impact = try impact(inventory)
            var drive: Guest.Disk?
            for inactive in [false, true] where impact.contains(inactive ? .config : .live) {
                guard let disk = try await guest.disk(target: target, inactive: inactive) else {
                    throw HostError.deviceNotFound(target)
                }
                guard disk.device == "cdrom" || disk.device == "floppy" else {
                    throw DiskChangeError.notRemovable(target: target, device: disk.device)
                }
                drive = drive ?? disk
            }
            guard let drive else { throw HostError.deviceNotFound(target) }
            let changed = media.map { $0.inserted(into: drive.element) } ?? DiskMedia.ejected(from: drive.element)
            if media != nil {
                let errors = try await GuestVolumes(host: host).checkAttached(diskXML: changed.serialized(), pointer: "/source")
                guard errors.isEmpty else { throw GuestSpecError(errors) }
            }
            do {
                try await guest.updateDisk(changed, impact: impact, force: force)
            } catch HostError.libvirt(let refusal) where media != nil && Self.refusesMedium(refusal) {
                // QEMU or libvirt could not open the medium (a missing file, a volume of the
                // wrong kind): the request's source, not the service, is at fault.
                throw GuestSpecError([FieldError(pointer: "/source", detail: "libvirt refuses it: \(refusal.message)")])
            }
            return try await guest.details()
        }
    }

    /// libvirt's errors for a medium it cannot use: an XML or configuration refusal
    /// (VIR_ERR_XML_ERROR 27, VIR_ERR_CONFIG_UNSUPPORTED 67), or the file missing
    /// (VIR_ERR_OPERATION_INVALID 55 / VIR_ERR_INVALID_ARG 8, worded "No such file").
    static func refusesMedium(_ error: LibvirtError) -> Bool {
        [27, 67].contains(error.code) || error.message.contains("No such file or directory")
    }
}
