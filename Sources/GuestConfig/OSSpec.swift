/// What the guest boots and on which machine.
public struct OSSpec: Sendable, Hashable {
    public static let firmwares = ["bios", "efi"]
    public static let bootDevices = ["hd", "cdrom", "network", "fd"]
    /// Linux's COMMAND_LINE_SIZE on x86: a longer command line is cut by the kernel.
    public static let cmdlineMaxBytes = 2048

    /// The host's architecture when nil.
    public var arch: String?
    /// `q35` on x86_64 when nil.
    public var machine: String?
    /// `bios` when nil.
    public var firmware: String?
    /// Boot devices in order (`hd`, `cdrom`, `network`); `hd` when empty and no disk has a
    /// boot order of its own.
    public var boot: [String]
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String?
    /// Firmware (SeaBIOS) output on the serial console too (`<bios useserial='yes'/>`), so a
    /// guest with no OS still shows something there.
    public var serialBios: Bool = false
    /// The firmware's boot menu (`<bootmenu enable='yes'/>`): SeaBIOS offers it for 3 s
    /// ("Press ESC for boot menu").
    public var bootMenu: Bool = false

    public init(arch: String? = nil, machine: String? = nil, firmware: String? = nil, boot: [String] = [],
                kernel: String? = nil, initrd: String? = nil, cmdline: String? = nil) {
        self.arch = arch
        self.machine = machine
        self.firmware = firmware
        self.boot = boot
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
    }

    init(reader: ObjectReader) {
        arch = reader.string("arch")
        machine = reader.string("machine")
        firmware = reader.choice("firmware", Self.firmwares)
        boot = reader.array("boot").compactMap { item in
            guard case .string(let device) = item.value, Self.bootDevices.contains(device) else {
                reader.errors.add(item.pointer, "must be one of \(Self.bootDevices.joined(separator: ", "))")
                return nil
            }
            return device
        }
        kernel = reader.string("kernel")
        initrd = reader.string("initrd")
        cmdline = reader.string("cmdline")
        serialBios = reader.bool("serial_bios") ?? false
        bootMenu = reader.bool("boot_menu") ?? false
        reader.finish()
    }
}

/// SMBIOS system information the guest sees (`<sysinfo type='smbios'>`).
public struct SysinfoSpec: Sendable, Hashable {
    public var manufacturer: String?
    public var product: String?
    public var version: String?
    /// The guest UUID when nil.
    public var serial: String?
    /// `Virtual Machine` when nil.
    public var family: String?

    public init(manufacturer: String? = nil, product: String? = nil, version: String? = nil, serial: String? = nil,
                family: String? = nil) {
        self.manufacturer = manufacturer
        self.product = product
        self.version = version
        self.serial = serial
        self.family = family
    }

    init(reader: ObjectReader) {
        manufacturer = reader.string("manufacturer")
        product = reader.string("product")
        version = reader.string("version")
        serial = reader.string("serial")
        family = reader.string("family")
        reader.finish()
    }
}
