import HTTPServer
import Libvirt
import VirtHost

/// `/v1/host`: who the host is and what it runs.
struct HostRoutes {
    let host: Host

    func register(in router: inout Router) {
        router.get("/v1/host") { [host] _ in
            .json(HostDocument(try await host.summary()))
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
        let model: String?

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(arch, forKey: .arch)
            try container.encode(model, forKey: .model)  // null, not absent, when the driver names none
        }

        enum CodingKeys: String, CodingKey { case arch, model }
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
