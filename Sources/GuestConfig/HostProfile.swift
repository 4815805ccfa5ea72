/// What the host offers guests, as validation needs it: read by the service from libvirt's
/// capabilities and domain capabilities, handed in as plain values (no libvirt here).
public struct HostProfile: Sendable, Hashable {
    /// One guest architecture the hypervisor runs.
    public struct Architecture: Sendable, Hashable {
        /// Machine type names, aliases (`q35`) and canonical names (`pc-q35-7.2`) both.
        public var machines: [String]
        /// Domain types (`kvm`, `qemu`).
        public var domainTypes: [String]
        public var maxCPUs: Int?

        public init(machines: [String], domainTypes: [String], maxCPUs: Int? = nil) {
            self.machines = machines
            self.domainTypes = domainTypes
            self.maxCPUs = maxCPUs
        }
    }

    /// The domain capabilities for the guest's arch, machine and virt type, where the driver
    /// has them.
    public struct Offer: Sendable, Hashable {
        public var maxVCPUs: Int?
        /// Supported CPU modes (`host-model`, `host-passthrough`, `custom`...).
        public var cpuModes: [String]
        /// Named models of the `custom` mode.
        public var cpuModels: [String]
        public var diskBuses: [String]

        public init(maxVCPUs: Int?, cpuModes: [String], cpuModels: [String], diskBuses: [String]) {
            self.maxVCPUs = maxVCPUs
            self.cpuModes = cpuModes
            self.cpuModels = cpuModels
            self.diskBuses = diskBuses
        }
    }

    /// The host's own architecture: the guest's when the spec names none.
    public var arch: String
    public var architectures: [String: Architecture]
    public var offer: Offer?

    public init(arch: String, architectures: [String: Architecture], offer: Offer? = nil) {
        self.arch = arch
        self.architectures = architectures
        self.offer = offer
    }
}

// The defaults that depend on the host: a spec that names no virt type or machine gets what
// this host can run, so the smallest spec works on any host (libvirt's test driver too).
extension HostProfile {
    /// The domain type for a guest of `arch` whose spec names none: `kvm` where the host
    /// offers it, else `qemu` (TCG), else the first the host has for the arch (libvirt's test
    /// driver offers `test`). `kvm` for an arch the host does not run: the arch is the error.
    public func defaultVirtType(arch: String) -> String {
        guard let offered = architectures[arch]?.domainTypes, !offered.isEmpty else { return "kvm" }
        return ["kvm", "qemu"].first(where: offered.contains) ?? offered[0]
    }

    /// The machine for a guest of `arch` whose spec names none: `q35` on x86_64 where the
    /// host offers it (or nothing is known of the host); otherwise none, and libvirt chooses
    /// the arch's default machine.
    public static func defaultMachine(arch: String, host: HostProfile?) -> String? {
        guard arch == "x86_64" else { return nil }
        guard let machines = host?.architectures[arch]?.machines else { return host == nil ? "q35" : nil }
        return machines.contains("q35") ? "q35" : nil
    }
}
