/// The guest's console devices, paravirtual devices, features and clock. Each has defaults
/// that make a usable server guest with no spec at all.

/// Remote display: `vnc` (default), `spice` or `none`.
public struct GraphicsSpec: Sendable, Hashable {
    public static let types = ["vnc", "spice", "none"]
    public var type: String
    /// `127.0.0.1` by default: the console is not exposed beyond the host unless asked.
    public var listen: String

    public init(type: String = "vnc", listen: String = "127.0.0.1") {
        self.type = type
        self.listen = listen
    }

    init(reader: ObjectReader) {
        type = reader.choice("type", Self.types) ?? "vnc"
        listen = reader.string("listen") ?? "127.0.0.1"
        reader.finish()
    }
}

/// The serial console: a pty, optionally logged to a file.
public struct SerialSpec: Sendable, Hashable {
    public var enabled: Bool
    public var logFile: String?

    public init(enabled: Bool = true, logFile: String? = nil) {
        self.enabled = enabled
        self.logFile = logFile
    }

    init(reader: ObjectReader) {
        enabled = reader.bool("enabled") ?? true
        logFile = reader.string("log_file")
        reader.finish()
    }
}

/// The video adapter, when there is a display.
public struct VideoSpec: Sendable, Hashable {
    public static let models = ["virtio", "vga", "qxl", "bochs", "cirrus", "none"]
    /// `virtio` by default; `none` without graphics.
    public var model: String?

    public init(model: String? = nil) { self.model = model }

    init(reader: ObjectReader) {
        model = reader.choice("model", Self.models)
        reader.finish()
    }
}

/// A USB tablet, so the pointer tracks in a graphical console.
public struct InputSpec: Sendable, Hashable {
    /// True by default when there is a display.
    public var tablet: Bool?

    public init(tablet: Bool? = nil) { self.tablet = tablet }

    init(reader: ObjectReader) {
        tablet = reader.bool("tablet")
        reader.finish()
    }
}

/// The virtio memory balloon and how often it reports statistics.
public struct MemballoonSpec: Sendable, Hashable {
    /// 0 turns statistics off; libvirt reads the period as a signed 32-bit number.
    public static let statsPeriodRange = 0...Int(Int32.max)
    public var enabled: Bool
    public var statsPeriodSeconds: Int

    public init(enabled: Bool = true, statsPeriodSeconds: Int = 10) {
        self.enabled = enabled
        self.statsPeriodSeconds = statsPeriodSeconds
    }

    init(reader: ObjectReader) {
        enabled = reader.bool("enabled") ?? true
        statsPeriodSeconds = reader.int("stats_period_s", in: MemballoonSpec.statsPeriodRange) ?? 10
        reader.finish()
    }
}

/// A virtio random number generator fed from the host's `/dev/urandom`.
public struct RNGSpec: Sendable, Hashable {
    public var enabled: Bool

    public init(enabled: Bool = true) { self.enabled = enabled }

    init(reader: ObjectReader) {
        enabled = reader.bool("enabled") ?? true
        reader.finish()
    }
}

/// Hypervisor features: ACPI, APIC and vmcoreinfo, all on by default.
public struct FeaturesSpec: Sendable, Hashable {
    public var acpi: Bool
    public var apic: Bool
    public var vmcoreinfo: Bool

    public init(acpi: Bool = true, apic: Bool = true, vmcoreinfo: Bool = true) {
        self.acpi = acpi
        self.apic = apic
        self.vmcoreinfo = vmcoreinfo
    }

    init(reader: ObjectReader) {
        acpi = reader.bool("acpi") ?? true
        apic = reader.bool("apic") ?? true
        vmcoreinfo = reader.bool("vmcoreinfo") ?? true
        reader.finish()
    }
}

/// The guest clock: UTC with Nova's x86 timers (PIT delay, RTC catch-up, no HPET).
public struct ClockSpec: Sendable, Hashable {
    public static let offsets = ["utc", "localtime"]
    public var offset: String

    public init(offset: String = "utc") { self.offset = offset }

    init(reader: ObjectReader) {
        offset = reader.choice("offset", Self.offsets) ?? "utc"
        reader.finish()
    }
}
