import HTTPServer
import Libvirt
import VirtHost

/// `/v1/host...`: who the host is, what it runs, what it has and what it can do.
struct HostRoutes {
    let host: Host

    func register(in router: inout Router) {
        router.get("/v1/host") { [host] _ in
            .json(HostDocument(try await host.summary()))
        }
        router.get("/v1/host/metrics") { [host] request in
            let maxAge = try request.integer("max_age_ms", in: 0...3_600_000).map { Duration.milliseconds($0) }
            return .json(try await host.metrics(maxAge: maxAge))
        }
        router.get("/v1/host/capabilities") { [host] request in
            var response = switch try request.documentFormat(preferred: .json) {
            case .json: Response.json(try await host.capabilities())
            case .xml: Response(contentType: "application/xml", text: try await host.capabilitiesXML())
            }
            response.headers.add("Vary", "Accept")
            return response
        }
        router.get("/v1/host/domain-capabilities") { [host] request in
            let (arch, machine, virtType) = (request.text("arch"), request.text("machine"), request.text("virt_type"))
            do {
                return .json(try await host.domainCapabilities(arch: arch, machine: machine, virtType: virtType))
            } catch HostError.libvirt(let error) where !error.isUnsupported {
                // Checked only once libvirt has refused, so a driver without domain
                // capabilities still says so (501) whatever the parameters.
                try Self.checkOffered(arch: arch, machine: machine, virtType: virtType,
                                      capabilities: try await host.capabilities())
                throw HostError.libvirt(error)
            }
        }
        router.get("/v1/host/version-check") { [host] request in
            let check = VersionCheck(libvirt: try request.version("libvirt"),
                                     hypervisor: try request.version("hypervisor"),
                                     hypervisorType: request.text("type"),
                                     comparison: try request.bool("exact", default: false) ? .exact : .minimum)
            // The check itself answers false on any failure (Nova's rule); an unreachable
            // hypervisor is said as such instead of as "not satisfied".
            let summary = try await host.summary()
            return .json(VersionCheckDocument(check: check, satisfied: await host.check(check), host: summary))
        }
    }
}

extension HostRoutes {
    /// An arch, machine or virt type the host's capabilities do not offer is a 400 naming the
    /// parameter: libvirt refuses them as "invalid argument", which says neither which
    /// parameter nor that the caller is at fault.
    static func checkOffered(arch: String?, machine: String?, virtType: String?,
                             capabilities: HostCapabilities) throws(Problem) {
        let guestArch = arch ?? capabilities.cpu.arch
        let offers = capabilities.guests.filter { $0.arch == guestArch }
        if let arch, offers.isEmpty {
            let arches = Set(capabilities.guests.map(\.arch)).sorted().joined(separator: ", ")
            throw .badRequest("arch must be one the host runs (\(arches)), got \(arch)", parameter: "arch")
        }
        guard !offers.isEmpty else { return }
        let virtTypes = offers.flatMap(\.domainTypes)
        if let virtType, !virtTypes.contains(virtType) {
            throw .badRequest("virt_type must be one the host offers for \(guestArch) (\(Set(virtTypes).sorted().joined(separator: ", "))), got \(virtType)",
                              parameter: "virt_type")
        }
        let machines = offers.flatMap(\.machines).flatMap { [$0.name] + ($0.canonical.map { [$0] } ?? []) }
        if let machine, !machines.contains(machine) {
            throw .badRequest("machine must be one the host offers for \(guestArch), got \(machine)", parameter: "machine")
        }
    }
}

/// A version as `"9.0.0"` plus libvirt's integer code.
struct VersionDocument: Encodable {
    let version: String
    let versionCode: Int

    init(_ version: LibvirtVersion) {
        self.version = version.description
        self.versionCode = version.code
    }

    enum CodingKeys: String, CodingKey {
        case version
        case versionCode = "version_code"
    }
}

struct HostDocument: Encodable {
    struct Hypervisor: Encodable {
        let type: String
        let version: String
        let versionCode: Int

        enum CodingKeys: String, CodingKey {
            case type, version
            case versionCode = "version_code"
        }
    }

    struct CPU: Encodable {
        let arch: String
        @NullWhenAbsent var model: String?  // null when the driver names none
    }

    let hostname: String
    let uri: String
    let hypervisor: Hypervisor
    let libvirt: VersionDocument
    let cpu: CPU

    init(_ summary: HostSummary) {
        hostname = summary.hostname
        uri = summary.uri
        hypervisor = Hypervisor(type: summary.hypervisorType, version: summary.hypervisorVersion.description,
                                versionCode: summary.hypervisorVersion.code)
        libvirt = VersionDocument(summary.libvirtVersion)
        cpu = CPU(arch: summary.cpuArch, model: summary.cpuModel)
    }
}

/// The answer of `/v1/host/version-check`: whether the host meets the requirement, and
/// each part required beside what the host has.
struct VersionCheckDocument: Encodable {
    struct Part: Encodable {
        @NullWhenAbsent var required: String?
        let actual: String
    }

    let satisfied: Bool
    let exact: Bool
    let libvirt: Part
    let hypervisor: Part
    let type: Part

    init(check: VersionCheck, satisfied: Bool, host: HostSummary) {
        self.satisfied = satisfied
        exact = check.comparison == .exact
        libvirt = Part(required: check.libvirt?.description, actual: host.libvirtVersion.description)
        hypervisor = Part(required: check.hypervisor?.description, actual: host.hypervisorVersion.description)
        type = Part(required: check.hypervisorType, actual: host.hypervisorType)
    }
}
