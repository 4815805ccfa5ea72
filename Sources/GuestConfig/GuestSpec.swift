import FoundationEssentials

/// A guest as the API's callers describe it (JSON). Everything optional has a default in the
/// spirit of virt-install and Nova, applied by ``GuestDefinition``.
public struct GuestSpec: Sendable, Hashable {
    /// Up to 16 TiB.
    public static let memoryMBRange = 1...16 * 1024 * 1024
    /// libvirt's schema takes a vCPU count as an unsigned short (`countCPU`).
    public static let vcpusRange = 1...Int(UInt16.max)
    public var name: String
    public var uuid: String?
    public var memoryMB: Int
    public var vcpus: Int
    /// The most vCPUs the domain can be given later without a restart (`<vcpu current=…>`);
    /// nil: as many as `vcpus`.
    public var maxVCPUs: Int?
    /// The most memory the balloon can give back later (`<memory>` vs `<currentMemory>`);
    /// nil: as much as `memory_mb`.
    public var maxMemoryMB: Int?
    /// The vCPUs the domain is defined with room for (libvirt's `<vcpu>` count).
    public var vcpusMaximum: Int { maxVCPUs ?? vcpus }
    /// The memory the domain is defined with room for (libvirt's `<memory>`).
    public var memoryMaximumMB: Int { maxMemoryMB ?? memoryMB }
    /// `kvm` (default) or `qemu` (TCG).
    public var virtType: String?
    /// Rendered in the service's own XML namespace under `<metadata>`.
    public var metadata: [String: String]
    /// The domain's labels from the start (as a domain patch sets them), in their own namespace.
    public var labels: [String: String] = [:]
    public var cpu: CPUSpec
    public var os: OSSpec
    public var sysinfo: SysinfoSpec
    public var disks: [DiskSpec]
    public var storage: StorageSpec
    public var interfaces: [InterfaceSpec]
    public var pciDevices: [PCIDeviceSpec]
    public var graphics: GraphicsSpec
    public var serial: SerialSpec
    public var video: VideoSpec
    public var input: InputSpec
    public var memballoon: MemballoonSpec
    public var rng: RNGSpec
    public var features: FeaturesSpec
    public var clock: ClockSpec
    /// The QEMU guest agent's virtio-serial channel (`org.qemu.guest_agent.0`), on unless the
    /// spec says `"agent": false` (Nova's `hw_qemu_guest_agent`).
    public var agent: Bool = true
    /// The first-boot disk the service makes (cloud-init NoCloud or a config drive); none when nil.
    public var firstBoot: FirstBootSpec?

    public init(name: String, uuid: String? = nil, memoryMB: Int, vcpus: Int = 1, virtType: String? = nil,
                metadata: [String: String] = [:], cpu: CPUSpec = CPUSpec(), os: OSSpec = OSSpec(),
                sysinfo: SysinfoSpec = SysinfoSpec(), disks: [DiskSpec] = [], storage: StorageSpec = StorageSpec(),
                interfaces: [InterfaceSpec] = [], pciDevices: [PCIDeviceSpec] = [],
                graphics: GraphicsSpec = GraphicsSpec(), serial: SerialSpec = SerialSpec(),
                video: VideoSpec = VideoSpec(), input: InputSpec = InputSpec(),
                memballoon: MemballoonSpec = MemballoonSpec(), rng: RNGSpec = RNGSpec(),
                features: FeaturesSpec = FeaturesSpec(), clock: ClockSpec = ClockSpec()) {
        self.name = name
        self.uuid = uuid
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.virtType = virtType
        self.metadata = metadata
        self.cpu = cpu
        self.os = os
        self.sysinfo = sysinfo
        self.disks = disks
        self.storage = storage
        self.interfaces = interfaces
        self.pciDevices = pciDevices
        self.graphics = graphics
        self.serial = serial
        self.video = video
        self.input = input
        self.memballoon = memballoon
        self.rng = rng
        self.features = features
        self.clock = clock
    }

    /// Reads a spec from JSON. `pointer` is where the spec sits in the request body (e.g.
    /// `/spec`), so errors point into the caller's document. Unknown fields, wrong types and
    /// missing required fields are all reported together.
    public static func parse(json data: some DataProtocol, pointer: String = "") throws(GuestSpecError) -> GuestSpec {
        let (spec, errors) = read(json: data, pointer: pointer)
        guard let spec, errors.isEmpty else { throw GuestSpecError(errors) }
        return spec
    }

    /// Reads what it can: the spec, when its required fields are there, and every error found
    /// on the way, so they can be reported together with ``GuestDefinition``'s own.
    public static func read(json data: some DataProtocol, pointer: String = "") -> (GuestSpec?, [FieldError]) {
        let json: JSON
        do { json = try JSONParser.parseLocating(Array(data)) } catch {
            return (nil, [FieldError(pointer: pointer, detail: error.description)])
        }
        return read(json, pointer: pointer)
    }

    static func read(_ json: JSON, pointer: String) -> (GuestSpec?, [FieldError]) {
        let errors = FieldErrors()
        guard let reader = ObjectReader(json, pointer: pointer, errors: errors) else { return (nil, errors.errors) }
        let spec = GuestSpec(reader: reader)
        reader.finish()
        return (spec, errors.errors)
    }

    init?(reader: ObjectReader) {
        let name = reader.string("name")
        let memoryMB = reader.int("memory_mb", in: GuestSpec.memoryMBRange)
        if !reader.has("name") { reader.errors.add(reader.path("name"), "is required") }
        if !reader.has("memory_mb") { reader.errors.add(reader.path("memory_mb"), "is required") }
        uuid = reader.string("uuid")
        vcpus = reader.int("vcpus", in: GuestSpec.vcpusRange) ?? 1
        maxVCPUs = reader.int("max_vcpus", in: GuestSpec.vcpusRange)
        maxMemoryMB = reader.int("max_memory_mb", in: GuestSpec.memoryMBRange)
        virtType = reader.string("virt_type")
        metadata = reader.stringMap("metadata")
        labels = reader.stringMap("labels")
        cpu = reader.object("cpu").map(CPUSpec.init(reader:)) ?? CPUSpec()
        os = reader.object("os").map(OSSpec.init(reader:)) ?? OSSpec()
        sysinfo = reader.object("sysinfo").map(SysinfoSpec.init(reader:)) ?? SysinfoSpec()
        disks = reader.objects("disks", DiskSpec.init(reader:))
        storage = reader.object("storage").map(StorageSpec.init(reader:)) ?? StorageSpec()
        interfaces = reader.objects("interfaces", InterfaceSpec.init(reader:))
        pciDevices = reader.objects("pci_devices", PCIDeviceSpec.init(reader:))
        graphics = reader.object("graphics").map(GraphicsSpec.init(reader:)) ?? GraphicsSpec()
        serial = reader.object("serial").map(SerialSpec.init(reader:)) ?? SerialSpec()
        video = reader.object("video").map(VideoSpec.init(reader:)) ?? VideoSpec()
        input = reader.object("input").map(InputSpec.init(reader:)) ?? InputSpec()
        memballoon = reader.object("memballoon").map(MemballoonSpec.init(reader:)) ?? MemballoonSpec()
        rng = reader.object("rng").map(RNGSpec.init(reader:)) ?? RNGSpec()
        features = reader.object("features").map(FeaturesSpec.init(reader:)) ?? FeaturesSpec()
        clock = reader.object("clock").map(ClockSpec.init(reader:)) ?? ClockSpec()
        agent = reader.bool("agent") ?? true
        firstBoot = reader.object("first_boot").map { firstBoot in
            let spec = FirstBootSpec(reader: firstBoot)
            firstBoot.finish()
            return spec
        }
        guard let name, let memoryMB else { return nil }
        self.name = name
        self.memoryMB = memoryMB
    }
}
