import Libvirt

/// Nova's libvirt version checks (host.py `_version_check`): each requirement that is given
/// is compared, those left nil are skipped, and any failure to read a value makes the check
/// false rather than an error.
public struct VersionCheck: Sendable, Hashable {
    public enum Comparison: Sendable, Hashable {
        /// The host's versions must be at least the required ones (`has_min_version`).
        case minimum
        /// The host's versions must equal the required ones (`has_version`).
        case exact
    }

    public var libvirt: LibvirtVersion?
    public var hypervisor: LibvirtVersion?
    public var hypervisorType: String?
    public var comparison: Comparison

    public init(libvirt: LibvirtVersion? = nil, hypervisor: LibvirtVersion? = nil,
                hypervisorType: String? = nil, comparison: Comparison = .minimum) {
        self.libvirt = libvirt
        self.hypervisor = hypervisor
        self.hypervisorType = hypervisorType
        self.comparison = comparison
    }

    /// Evaluates the check, reading each actual value only when its requirement is set.
    public func isSatisfied(
        libvirtVersion: () throws -> LibvirtVersion,
        hypervisorVersion: () throws -> LibvirtVersion,
        hypervisorType actualType: () throws -> String
    ) -> Bool {
        do {
            if let libvirt, fails(actual: try libvirtVersion(), required: libvirt) { return false }
            if let hypervisor, fails(actual: try hypervisorVersion(), required: hypervisor) { return false }
            if let hypervisorType, try actualType() != hypervisorType { return false }
            return true
        } catch {
            return false
        }
    }

    private func fails(actual: LibvirtVersion, required: LibvirtVersion) -> Bool {
        switch comparison {
        case .minimum: actual.code < required.code
        case .exact: actual.code != required.code
        }
    }
}
