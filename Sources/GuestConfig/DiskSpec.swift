/// One disk: where its data is, how the guest sees it, and how QEMU reaches it.
public struct DiskSpec: Sendable, Hashable {
    public static let types = ["file", "block", "network", "volume"]
    public static let formats = ["qcow2", "raw"]
    public static let devices = ["disk", "cdrom"]
    public static let buses = ["virtio", "scsi", "sata", "ide"]
    public static let caches = ["none", "writethrough", "writeback", "directsync", "unsafe", "default"]
    public static let ioModes = ["native", "threads", "io_uring"]
    public static let discards = ["unmap", "ignore"]
    public static let protocols = ["rbd", "iscsi", "nbd"]
    /// libvirt reads a device's boot order as an unsigned 32-bit number.
    public static let bootOrderRange = 1...Int(UInt32.max)

    /// A network disk's source: protocol, image name and servers.
    public struct NetworkSource: Sendable, Hashable {
        public struct Host: Sendable, Hashable {
            public var name: String
            public var port: Int?

            public init(name: String, port: Int? = nil) {
                self.name = name
                self.port = port
            }
        }

        public var `protocol`: String
        /// `pool/image` for rbd, `iqn.../lun` for iSCSI, an export name for NBD.
        public var name: String
        public var hosts: [Host]

        public init(protocol: String, name: String, hosts: [Host] = []) {
            self.protocol = `protocol`
            self.name = name
            self.hosts = hosts
        }
    }

    /// Throttling limits (`<iotune>`); nil fields are unlimited.
    public struct IOTune: Sendable, Hashable {
        public var totalBytesSec: Int?
        public var readBytesSec: Int?
        public var writeBytesSec: Int?
        public var totalIOPSSec: Int?
        public var readIOPSSec: Int?
        public var writeIOPSSec: Int?

        public init(totalBytesSec: Int? = nil, readBytesSec: Int? = nil, writeBytesSec: Int? = nil,
                    totalIOPSSec: Int? = nil, readIOPSSec: Int? = nil, writeIOPSSec: Int? = nil) {
            self.totalBytesSec = totalBytesSec
            self.readBytesSec = readBytesSec
            self.writeBytesSec = writeBytesSec
            self.totalIOPSSec = totalIOPSSec
            self.readIOPSSec = readIOPSSec
            self.writeIOPSSec = writeIOPSSec
        }

        /// QEMU's limit for every throttle (`QEMU_BLOCK_IOTUNE_MAX`); libvirt refuses more at define.
        public static let range = 0...1_000_000_000_000_000

        /// Elements in libvirt's order, with their values.
        var limits: [(String, Int?)] {
            [("total_bytes_sec", totalBytesSec), ("read_bytes_sec", readBytesSec),
             ("write_bytes_sec", writeBytesSec), ("total_iops_sec", totalIOPSSec),
             ("read_iops_sec", readIOPSSec), ("write_iops_sec", writeIOPSSec)]
        }
    }

    /// `file` when nil (or `network` when `network_source` is given).
    public var type: String?
    /// The file or block device path.
    public var path: String?
    public var networkSource: NetworkSource?
    /// A `volume` disk's source: a volume of a libvirt storage pool.
    public var volumeSource: VolumeReference?
    /// For a storage role the service makes (``ManagedVolumes``): the image its qcow2 overlay
    /// sits on, and its size in GiB (the image's when nil).
    public var image: VolumeReference?
    public var sizeGB: Int?
    /// `qcow2` for files, `raw` otherwise, when nil.
    public var format: String?
    /// `disk` when nil.
    public var device: String?
    /// `virtio` for disks, `sata` for CD-ROMs, when nil.
    public var bus: String?
    /// The guest's device name (`vda`); assigned per bus when nil.
    public var target: String?
    public var cache: String?
    public var io: String?
    public var discard: String?
    public var readonly: Bool
    public var serial: String?
    public var bootOrder: Int?
    public var iotune: IOTune?

    public init(type: String? = nil, path: String? = nil, networkSource: NetworkSource? = nil, format: String? = nil,
                device: String? = nil, bus: String? = nil, target: String? = nil, cache: String? = nil,
                io: String? = nil, discard: String? = nil, readonly: Bool = false, serial: String? = nil,
                bootOrder: Int? = nil, iotune: IOTune? = nil) {
        self.type = type
        self.path = path
        self.networkSource = networkSource
        self.format = format
        self.device = device
        self.bus = bus
        self.target = target
        self.cache = cache
        self.io = io
        self.discard = discard
        self.readonly = readonly
        self.serial = serial
        self.bootOrder = bootOrder
        self.iotune = iotune
    }

    /// `source` is a path (file, block), an object `{protocol, name, hosts}` (network) or
    /// `{pool, volume}` (volume, also without a `type`). A storage role the service may make (`managed`) also takes
    /// `image` and `size_gb`.
    init(reader: ObjectReader) { self.init(reader: reader, managed: false) }

    init(reader: ObjectReader, managed: Bool) {
        type = reader.choice("type", Self.types)
        if managed {
            image = reader.object("image").map { VolumeReference(reader: $0) }
            sizeGB = reader.int("size_gb", in: VolumeReference.sizeGBRange)
            // The service makes this disk: a source of the caller's would be another disk.
            if reader.has("image") || reader.has("size_gb"), reader.has("source") {
                reader.errors.add(reader.path("source"), "cannot be combined with image or size_gb: the service makes this disk")
            }
        }
        if let source = reader.value("source") {
            switch source {
            case .string(let path):
                reader.checkCharacters(path, at: reader.path("source"))
                self.path = path
            // A volume source is `{pool, volume}`: with no type, a `pool` says which it is.
            case .object(let object) where type == "volume" || (type == nil && object.position(of: "pool") != nil):
                volumeSource = ObjectReader(source, pointer: reader.path("source"), errors: reader.errors)
                    .map { VolumeReference(reader: $0) }
            case .object:
                if let object = ObjectReader(source, pointer: reader.path("source"), errors: reader.errors) {
                    networkSource = NetworkSource(
                        protocol: object.choice("protocol", Self.protocols) ?? "rbd",
                        name: object.string("name") ?? "",
                        hosts: object.objects("hosts") { host in
                            NetworkSource.Host(name: host.string("name") ?? "", port: host.int("port", in: 1...65535))
                        })
                    if !object.has("protocol") { reader.errors.add(object.path("protocol"), "is required") }
                    if !object.has("name") { reader.errors.add(object.path("name"), "is required") }
                    object.finish()
                }
            case .malformedString:
                reader.errors.add(reader.path("source"), "must be valid UTF-8")
            default:
                reader.errors.add(reader.path("source"), "must be a path or a network source object, got \(source.kind)")
            }
        }
        format = reader.choice("format", Self.formats)
        device = reader.choice("device", Self.devices)
        bus = reader.choice("bus", Self.buses)
        target = reader.string("target")
        cache = reader.choice("cache", Self.caches)
        io = reader.choice("io", Self.ioModes)
        discard = reader.choice("discard", Self.discards)
        readonly = reader.bool("readonly") ?? false
        serial = reader.string("serial")
        bootOrder = reader.int("boot_order", in: DiskSpec.bootOrderRange)
        iotune = reader.object("iotune").map { tune in
            defer { tune.finish() }
            return IOTune(totalBytesSec: tune.int("total_bytes_sec", in: IOTune.range), readBytesSec: tune.int("read_bytes_sec", in: IOTune.range),
                          writeBytesSec: tune.int("write_bytes_sec", in: IOTune.range), totalIOPSSec: tune.int("total_iops_sec", in: IOTune.range),
                          readIOPSSec: tune.int("read_iops_sec", in: IOTune.range), writeIOPSSec: tune.int("write_iops_sec", in: IOTune.range))
        }
        reader.finish()
    }
}

/// Nova's storage roles: the instance's root, ephemeral and swap disks, its config drive,
/// and attached volumes, assembled into one ordered disk list (``StorageConfig``).
public struct StorageSpec: Sendable, Hashable {
    public var root: DiskSpec?
    public var ephemeral: [DiskSpec]
    public var swap: DiskSpec?
    /// A CD-ROM on SATA unless said otherwise; read-only.
    public var configDrive: DiskSpec?
    public var volumes: [DiskSpec]
    /// `ephemeral` was one object, not an array: its pointer has no index.
    public var ephemeralIsObject = false

    public init(root: DiskSpec? = nil, ephemeral: [DiskSpec] = [], swap: DiskSpec? = nil,
                configDrive: DiskSpec? = nil, volumes: [DiskSpec] = []) {
        self.root = root
        self.ephemeral = ephemeral
        self.swap = swap
        self.configDrive = configDrive
        self.volumes = volumes
    }

    init(reader: ObjectReader) {
        root = reader.object("root").map { DiskSpec(reader: $0, managed: true) }
        // One ephemeral disk may be given as an object, several as an array.
        if case .object = reader.value("ephemeral") {
            ephemeral = reader.object("ephemeral").map { [DiskSpec(reader: $0, managed: true)] } ?? []
            ephemeralIsObject = true
        } else {
            ephemeral = reader.objects("ephemeral") { DiskSpec(reader: $0, managed: true) }
        }
        swap = reader.object("swap").map(DiskSpec.init(reader:))
        configDrive = reader.object("config_drive").map(DiskSpec.init(reader:))
        volumes = reader.objects("volumes", DiskSpec.init(reader:))
        reader.finish()
    }

    public var isEmpty: Bool { root == nil && ephemeral.isEmpty && swap == nil && configDrive == nil && volumes.isEmpty }
}
