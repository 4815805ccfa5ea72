import Libvirt

/// Errors the Host reports.
public enum HostError: Error, Sendable, CustomStringConvertible {
    /// There is no usable connection to the hypervisor now; calls fail fast until
    /// `retryAfter` has passed, then the next call tries to reconnect.
    case hypervisorUnavailable(reason: String, retryAfter: Duration)
    /// libvirt refused the call.
    case libvirt(LibvirtError)
    /// No domain has this UUID or name.
    case domainNotFound(String)
    /// What libvirt returned could not be read (an XML document that does not parse).
    case unreadable(String)
    /// A domain with this name or UUID exists already.
    case domainExists(String)
    /// The action makes no sense in the domain's current state.
    case invalidState(action: String, state: String)
    /// A step of a multi-step operation failed; `rolledBack` says whether what the earlier
    /// steps made was removed again.
    case stepFailed(step: String, error: LibvirtError, rolledBack: Bool)
    /// The domain has no device with this target, MAC or PCI address.
    case deviceNotFound(String)

    public var description: String {
        switch self {
        case .hypervisorUnavailable(let reason, _): "hypervisor unavailable: \(reason)"
        case .libvirt(let error): error.description
        case .domainNotFound(let reference): "no domain with UUID or name \(reference)"
        case .unreadable(let reason): reason
        case .domainExists(let reference): "a domain named or with UUID \(reference) exists"
        case .invalidState(let action, let state): "cannot \(action) a domain that is \(state)"
        case .stepFailed(let step, let error, _): "\(step) failed: \(error.message)"
        case .deviceNotFound(let identifier): "no device \(identifier)"
        }
    }
}
