import Libvirt

/// Nova's power states, mapped from libvirt's domain states as Nova's libvirt driver maps them.
public enum PowerState: String, Sendable, Encodable, CaseIterable {
    case nostate, running, paused, shutdown, crashed, suspended

    public init(_ state: DomainState) {
        switch state {
        case .nostate: self = .nostate
        case .running, .blocked: self = .running
        case .paused: self = .paused
        case .shutdown, .shutoff: self = .shutdown
        case .crashed: self = .crashed
        case .pmsuspended: self = .suspended
        }
    }
}
