import CLibvirt

/// A domain's vCPUs and memory changed after creation (hot-plug and balloon).
extension Domain {
    /// Sets the vCPUs online (`virDomainSetVcpusFlags`), on the running domain, its
    /// definition, or both as `impact` says; at most the domain's maximum.
    public func setVCPUs(_ count: Int, _ impact: DomainModificationImpact) throws {
        _ = try LibvirtError.status("virDomainSetVcpusFlags") {
            virDomainSetVcpusFlags(handle, UInt32(clamping: count), impact.rawValue)
        }
    }

    /// Sets the memory the balloon gives the domain, in KiB (`virDomainSetMemoryFlags`); at
    /// most the domain's maximum (`<memory>`).
    public func setMemory(kibibytes: UInt64, _ impact: DomainModificationImpact) throws {
        _ = try LibvirtError.status("virDomainSetMemoryFlags") {
            virDomainSetMemoryFlags(handle, UInt(clamping: kibibytes), impact.rawValue)
        }
    }
}
