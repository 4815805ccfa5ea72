import GuestConfig
import Testing
import TestSupport

/// The defaults that depend on the host: a spec that names no virt type or machine gets what
/// the host can run.
@Suite(.paced) struct HostDefaultsTests {
    static func host(_ domainTypes: [String], machines: [String] = ["pc", "q35", "pc-q35-7.2"],
                     arch: String = "x86_64") -> HostProfile {
        HostProfile(arch: arch, architectures: [arch: .init(machines: machines, domainTypes: domainTypes)])
    }

    @Test func virtTypeIsKVMWhereOfferedElseQEMUElseWhatTheHostHas() {
        #expect(Self.host(["qemu", "kvm"]).defaultVirtType(arch: "x86_64") == "kvm")
        #expect(Self.host(["qemu"]).defaultVirtType(arch: "x86_64") == "qemu")
        #expect(Self.host(["test"], arch: "i686").defaultVirtType(arch: "i686") == "test")
        // An arch the host does not run: the arch is what is wrong, not the virt type.
        #expect(Self.host(["qemu"]).defaultVirtType(arch: "aarch64") == "kvm")
    }

    @Test func machineIsQ35OnX86WhereOfferedElseLibvirtsChoice() {
        #expect(HostProfile.defaultMachine(arch: "x86_64", host: Self.host(["kvm"])) == "q35")
        #expect(HostProfile.defaultMachine(arch: "x86_64", host: Self.host(["kvm"], machines: ["pc"])) == nil)
        #expect(HostProfile.defaultMachine(arch: "x86_64", host: nil) == "q35")
        #expect(HostProfile.defaultMachine(arch: "aarch64", host: Self.host(["kvm"], arch: "aarch64")) == nil)
    }

    @Test func theSmallestSpecTakesTheHostsDefaults() throws {
        let spec = GuestSpec(name: "web3", memoryMB: 1024)
        let onTCG = try GuestDefinition(spec, host: Self.host(["qemu"]))
        #expect(onTCG.virtType == "qemu" && onTCG.machine == "q35" && onTCG.arch == "x86_64")
        let onTestDriver = try GuestDefinition(spec, host: Self.host(["test"], machines: [], arch: "i686"))
        #expect(onTestDriver.virtType == "test" && onTestDriver.machine == nil && onTestDriver.arch == "i686")
        // A virt type the spec names is kept, and checked.
        #expect(throws: GuestSpecError.self) {
            try GuestDefinition(GuestSpec(name: "web3", memoryMB: 1024, virtType: "kvm"), host: Self.host(["qemu"]))
        }
    }
}
