import GuestConfig
import Libvirt

/// The host's offer a guest spec is validated against: a host fact, read from the
/// capabilities. The policy that goes with it is ``Provisioning``'s.
extension Host {
    /// The host's offer for a spec: its architectures, machines and domain types from the
    /// capabilities, and, where the driver has domain capabilities, the CPU modes, models,
    /// disk buses and vCPU maximum for the spec's arch, machine and virt type.
    public func hostProfile(for spec: GuestSpec) throws(HostError) -> HostProfile {
        let capabilities = try capabilities()
        var architectures: [String: HostProfile.Architecture] = [:]
        for guest in capabilities.guests where guest.osType == "hvm" {
            var architecture = architectures[guest.arch] ?? .init(machines: [], domainTypes: [])
            for machine in guest.machines {
                architecture.machines.append(machine.name)
                if let canonical = machine.canonical { architecture.machines.append(canonical) }
                if let maxCPUs = machine.maxCPUs { architecture.maxCPUs = max(architecture.maxCPUs ?? 0, maxCPUs) }
            }
            architecture.domainTypes += guest.domainTypes.filter { !architecture.domainTypes.contains($0) }
            architectures[guest.arch] = architecture
        }
        var profile = HostProfile(arch: capabilities.cpu.arch, architectures: architectures)
        // The same defaults GuestDefinition settles, so the offer read is the one for the guest.
        let arch = spec.os.arch ?? capabilities.cpu.arch
        let machine = spec.os.machine ?? HostProfile.defaultMachine(arch: arch, host: profile)
        let virtType = spec.virtType ?? profile.defaultVirtType(arch: arch)
        var offer: HostProfile.Offer?
        // Only for what the capabilities offer; anything else is a field error already.
        if let architecture = architectures[arch], architecture.domainTypes.contains(virtType),
           machine.map(architecture.machines.contains) ?? true,
           let domain = try? domainCapabilities(arch: arch, machine: machine, virtType: virtType) {
            let custom = domain.cpuModes.first { $0.name == "custom" }
            offer = HostProfile.Offer(
                maxVCPUs: domain.maxVCPUs,
                cpuModes: domain.cpuModes.filter(\.supported).map(\.name),
                cpuModels: custom?.models.map(\.name) ?? [],
                diskBuses: domain.devices["disk"]?.enums["bus"] ?? [])
        }
        profile.offer = offer
        return profile
    }
}
