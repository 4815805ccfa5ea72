import GuestConfig
import Libvirt

/// One disk of a guest, found by its target, and the calls that change it in place.
extension Guest {
    /// A disk as one side of the domain (the running domain or its definition) has it.
    public struct Disk: Sendable {
        public var target: String
        /// `disk` or `cdrom` (or `floppy`, `lun`).
        public var device: String
        /// The file or device path, for `file` and `block` disks with a medium.
        public var path: String?
        /// The pool and volume, for `volume` disks.
        public var volume: VolumeReference?
        /// The `<disk>` element as libvirt gave it.
        public var element: Element
    }

    /// The disk with target `target` on the running domain, or with `inactive` on its
    /// definition; nil when that side has no such disk.
    public func disk(target: String, inactive: Bool) async throws(HostError) -> Disk? {
        try await withDomain { domain in
            let xml = try domain.xml(inactive ? [.inactive] : [])
            let devices = try XMLTree(xml, root: "domain").root.child("devices")
            guard let disk = devices?.children("disk").first(where: { $0.child("target")?.attribute("dev") == target })
            else { return nil }
            let source = disk.child("source")
            let volume = source.flatMap { source in
                source.attribute("pool").flatMap { pool in
                    source.attribute("volume").map { VolumeReference(pool: pool, volume: $0) }
                }
            }
            return Disk(target: target, device: disk.attribute("device") ?? "disk",
                        path: source?.attribute("file") ?? source?.attribute("dev"), volume: volume,
                        element: disk.element)
        }
    }

    /// Replaces a disk by its target (`virDomainUpdateDeviceFlags`): a CD-ROM's medium.
    func updateDisk(_ disk: Element, impact: DomainModificationImpact, force: Bool) async throws(HostError) {
        let xml = disk.serialized()
        try await withDomain { try $0.updateDevice(xml: xml, impact, force: force) }
    }

    /// The disk's size as the guest sees it, and what it takes on the host.
    public func blockInfo(target: String) async throws(HostError) -> BlockInfo {
        try await withDomain { try $0.blockInfo(target) }
    }

    /// Grows the running domain's disk (`virDomainBlockResize`).
    func blockResize(target: String, bytes: UInt64) async throws(HostError) {
        try await withDomain { try $0.blockResize(target, bytes: bytes) }
    }
}
