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

    public var description: String {
        switch self {
        case .hypervisorUnavailable(let reason, _): "hypervisor unavailable: \(reason)"
        case .libvirt(let error): error.description
        case .domainNotFound(let reference): "no domain with UUID or name \(reference)"
        case .unreadable(let reason): reason
        }
    }
}
