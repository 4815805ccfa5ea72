import Libvirt

/// What `GET /v1/host` reports: who the host is and what it runs.
public struct HostSummary: Sendable, Hashable {
    public let hostname: String
    public let uri: String
    public let hypervisorType: String
    public let hypervisorVersion: LibvirtVersion
    public let libvirtVersion: LibvirtVersion
    public let cpuArch: String
    /// The host CPU model from the capabilities; nil where the driver names none.
    public let cpuModel: String?
}
