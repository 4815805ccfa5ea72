/// Nova's `_get_guest_storage_config`: the storage roles and the explicit disks, in one
/// ordered list, each with its defaults applied and a target name that collides with none.
public enum StorageConfig {
    /// A disk with every default settled, and where it came from in the spec.
    public struct Disk: Sendable, Hashable {
        public var spec: DiskSpec
        public var type: String
        public var device: String
        public var bus: String
        public var format: String
        public var target: String
        /// The disk's JSON pointer, relative to the spec.
        public var pointer: String
    }

    /// Root, ephemeral disks, swap, volumes, the config drive, then the explicit `disks`.
    public static func orderedDisks(_ spec: GuestSpec) -> [(spec: DiskSpec, pointer: String)] {
        var disks: [(DiskSpec, String)] = []
        let storage = spec.storage
        if let root = storage.root { disks.append((root, "/storage/root")) }
        for (index, disk) in storage.ephemeral.enumerated() {
            disks.append((disk, storage.ephemeralIsObject ? "/storage/ephemeral" : "/storage/ephemeral/\(index)"))
        }
        if let swap = storage.swap { disks.append((swap, "/storage/swap")) }
        for (index, disk) in storage.volumes.enumerated() { disks.append((disk, "/storage/volumes/\(index)")) }
        if var configDrive = storage.configDrive {
            configDrive.device = configDrive.device ?? "cdrom"
            configDrive.readonly = true
            disks.append((configDrive, "/storage/config_drive"))
        }
        for (index, disk) in spec.disks.enumerated() { disks.append((disk, "/disks/\(index)")) }
        return disks
    }

    /// The name prefix of a bus's devices.
    public static func prefix(bus: String) -> String {
        switch bus {
        case "virtio": "vd"
        case "ide": "hd"
        default: "sd"
        }
    }

    /// `vda`, `vdb`, … `vdz`, `vdaa`, … for index 0, 1, …
    public static func name(prefix: String, index: Int) -> String {
        var index = index
        var letters = ""
        repeat {
            letters = String(UnicodeScalar(UInt8(97 + index % 26))) + letters
            index = index / 26 - 1
        } while index >= 0
        return prefix + letters
    }

    /// Settles each disk's defaults and assigns targets: names the caller fixed are kept,
    /// the others take the lowest free name of their bus.
    public static func disks(_ spec: GuestSpec) -> [Disk] {
        let ordered = orderedDisks(spec)
        var taken = Set(ordered.compactMap(\.spec.target))
        return ordered.map { disk, pointer in
            let isVolume = disk.volumeSource != nil || ManagedVolumes.isManaged(disk)
            let type = disk.type ?? (disk.networkSource != nil ? "network" : isVolume ? "volume" : "file")
            let device = disk.device ?? "disk"
            let bus = disk.bus ?? (device == "cdrom" ? "sata" : "virtio")
            let format = disk.format ?? ((type == "file" || type == "volume") && device == "disk" ? "qcow2" : "raw")
            var target = disk.target
            if target == nil {
                let prefix = prefix(bus: bus)
                var index = 0
                var free = name(prefix: prefix, index: index)
                while taken.contains(free) {
                    index += 1
                    free = name(prefix: prefix, index: index)
                }
                target = free
                taken.insert(free)
            }
            return Disk(spec: disk, type: type, device: device, bus: bus, format: format, target: target!,
                        pointer: pointer)
        }
    }
}
