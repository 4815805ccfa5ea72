import Libvirt

extension Guest {
    /// Each vCPU of a running domain.
    public func vcpus() async throws(HostError) -> [VCPUInfo] {
        try await withDomain { domain in
            guard try domain.isActive() else {
                throw HostError.invalidState(action: "read the vCPUs of", state: try domain.state().state.description)
            }
            return try domain.vcpus()
        }
    }
}
