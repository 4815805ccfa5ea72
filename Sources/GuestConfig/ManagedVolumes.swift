/// A volume of a libvirt storage pool, as a spec names it: `{"pool", "volume"}`.
public struct VolumeReference: Sendable, Hashable {
    /// Sizes of volumes the service makes, in GiB: up to 1 PiB, as ``VolumeCreation``.
    public static let sizeGBRange = 1...(1 << 20)

    public var pool: String
    public var volume: String

    public init(pool: String, volume: String) {
        self.pool = pool
        self.volume = volume
    }

    /// Both fields are required; what is missing or not a string is reported and read as "".
    init(reader: ObjectReader) {
        pool = reader.string("pool") ?? ""
        volume = reader.string("volume") ?? ""
        for key in ["pool", "volume"] where !reader.has(key) { reader.errors.add(reader.path(key), "is required") }
        reader.finish()
    }

    /// Field errors for names that could name another object (see ``StorageName``), at `pointer`.
    public func refusals(at pointer: String) -> [(String, String)] {
        [("pool", pool), ("volume", volume)].compactMap { key, name in
            StorageName.referenceRefusal(of: name).map { (pointer + "/" + key, $0) }
        }
    }
}

/// The storage roles the service makes itself (Nova's image backend): a root disk with an
/// `image` (a qcow2 overlay on it) or a `size_gb`, and ephemeral disks with a `size_gb`, each
/// a qcow2 volume named after the guest in the instances pool. Resolving a spec turns these
/// roles into `volume` disks on the volumes to be made; the domain records them in its
/// `<metadata>` (``namespace``) so they can be removed with it.
public enum ManagedVolumes {
    /// The namespace of the `<metadata>` element listing the volumes the service made.
    public static let namespace = "https://virthost.dev/xmlns/volumes/1"

    /// One volume the service makes for a guest.
    public struct Volume: Sendable, Hashable {
        public var pool: String
        public var name: String
        /// The image the volume is an overlay on; nil for an empty volume.
        public var image: VolumeReference?
        /// Nil: the image's size.
        public var sizeGB: Int?
        /// The role's pointer in the spec (`/storage/root`).
        public var pointer: String

        public var reference: VolumeReference { VolumeReference(pool: pool, volume: name) }
        public var capacityBytes: Int? { sizeGB.map { $0 << 30 } }
    }

    /// Whether the service makes this disk: it names an image or a size, and no source.
    public static func isManaged(_ disk: DiskSpec) -> Bool {
        (disk.image != nil || disk.sizeGB != nil) && disk.path == nil && disk.networkSource == nil
    }

    /// The volumes the spec asks the service to make, in `pool`: `<name>-root`, then
    /// `<name>-ephemeral` (and `<name>-ephemeral1`, … for more than one).
    public static func plan(_ spec: GuestSpec, pool: String) -> [Volume] {
        var volumes: [Volume] = []
        if let root = spec.storage.root, isManaged(root) {
            volumes.append(Volume(pool: pool, name: spec.name + "-root", image: root.image, sizeGB: root.sizeGB,
                                  pointer: "/storage/root"))
        }
        for (index, disk) in spec.storage.ephemeral.enumerated() where isManaged(disk) {
            volumes.append(Volume(pool: pool, name: spec.name + "-ephemeral" + (index == 0 ? "" : String(index)),
                                  image: disk.image, sizeGB: disk.sizeGB,
                                  pointer: spec.storage.ephemeralIsObject ? "/storage/ephemeral" : "/storage/ephemeral/\(index)"))
        }
        return volumes
    }

    /// The first-boot disk's volume in the instances pool: `<name>-first-boot.iso`.
    public static func firstBootVolumeName(_ spec: GuestSpec) -> String { spec.name + "-first-boot.iso" }

    /// The first-boot volume of a resolved spec, when the spec asks for one.
    public static func firstBootVolume(_ spec: GuestSpec) -> VolumeReference? {
        guard spec.firstBoot != nil, let source = spec.storage.configDrive?.volumeSource,
              source.volume == firstBootVolumeName(spec) else { return nil }
        return source
    }

    /// The spec with each managed role turned into a `volume` disk on its volume in `pool`
    /// (qcow2, as the service makes them), and its first-boot data into a read-only CD-ROM on
    /// the first-boot volume (raw ISO 9660). ``plan(_:pool:)`` of the result is unchanged.
    public static func resolve(_ spec: GuestSpec, pool: String) -> GuestSpec {
        var spec = spec
        if spec.firstBoot != nil, spec.storage.configDrive == nil {
            var drive = DiskSpec(type: "volume", format: "raw", device: "cdrom", readonly: true)
            drive.volumeSource = VolumeReference(pool: pool, volume: firstBootVolumeName(spec))
            spec.storage.configDrive = drive
        }
        func resolved(_ disk: DiskSpec, _ name: String) -> DiskSpec {
            guard isManaged(disk), disk.volumeSource == nil, disk.type == nil || disk.type == "volume" else { return disk }
            var disk = disk
            disk.type = "volume"
            disk.volumeSource = VolumeReference(pool: pool, volume: name)
            disk.format = "qcow2"
            return disk
        }
        if let root = spec.storage.root { spec.storage.root = resolved(root, spec.name + "-root") }
        spec.storage.ephemeral = spec.storage.ephemeral.enumerated().map { index, disk in
            resolved(disk, spec.name + "-ephemeral" + (index == 0 ? "" : String(index)))
        }
        return spec
    }

    /// The spec with `transform` applied to each disk, given with its pointer (as in
    /// ``StorageConfig/orderedDisks(_:)``).
    public static func mapDisks(_ spec: GuestSpec, _ transform: (DiskSpec, String) -> DiskSpec) -> GuestSpec {
        var spec = spec
        let storage = spec.storage
        spec.storage.root = storage.root.map { transform($0, "/storage/root") }
        spec.storage.ephemeral = storage.ephemeral.enumerated().map { index, disk in
            transform(disk, storage.ephemeralIsObject ? "/storage/ephemeral" : "/storage/ephemeral/\(index)")
        }
        spec.storage.swap = storage.swap.map { transform($0, "/storage/swap") }
        spec.storage.volumes = storage.volumes.enumerated().map { transform($1, "/storage/volumes/\($0)") }
        spec.storage.configDrive = storage.configDrive.map { transform($0, "/storage/config_drive") }
        spec.disks = spec.disks.enumerated().map { transform($1, "/disks/\($0)") }
        return spec
    }

    /// The `<metadata>` child listing the volumes of a resolved spec; nil when there are none.
    static func metadata(_ spec: GuestSpec) -> Element? {
        let made = StorageConfig.orderedDisks(spec).compactMap { disk in
            isManaged(disk.spec) ? disk.spec.volumeSource : nil
        } + [firstBootVolume(spec)].compactMap { $0 }
        guard !made.isEmpty else { return nil }
        return Element("virthost-volumes:volumes", [("xmlns:virthost-volumes", namespace)]) {
            for volume in made {
                Element("virthost-volumes:volume", [("pool", volume.pool), ("name", volume.volume)])
            }
        }
    }
}
