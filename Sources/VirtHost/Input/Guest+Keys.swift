import Libvirt

extension Guest {
    /// Presses keys on the running domain's keyboard together (a chord such as
    /// Ctrl+Alt+Delete) and releases them after `holdMilliseconds`.
    public func sendKeys(linux codes: [UInt32], holdMilliseconds: Int) async throws(HostError) {
        try await withDomain { domain in
            guard try domain.isActive() else {
                throw HostError.invalidState(action: "send keys to", state: try domain.state().state.description)
            }
            try domain.sendKeys(linux: codes, holdMilliseconds: UInt32(clamping: holdMilliseconds))
        }
    }
}
