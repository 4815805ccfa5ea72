import Libvirt

/// One domain and its lifecycle (Nova's guest.py `Guest`). Lives only inside a Host call
/// (``Host/withGuest(_:_:)``), on the Host's thread, like the ``Domain`` it wraps.
public final class Guest {
    let domain: Domain

    init(_ domain: Domain) { self.domain = domain }

    /// Power operations, each checked against the current state first, so an action that
    /// makes no sense says so (``HostError/invalidState(action:state:)``) instead of passing
    /// libvirt's text through.
    public enum Action: String, Sendable, CaseIterable {
        case start, shutdown, reboot, destroy, pause, resume
        case injectNMI = "inject-nmi"

        /// The states the action applies in.
        var allowedStates: Set<DomainState> {
            switch self {
            case .start: [.shutoff, .crashed]
            case .shutdown, .reboot, .injectNMI: [.running, .blocked, .paused]
            case .destroy: [.running, .blocked, .paused, .shutdown, .crashed, .pmsuspended]
            case .pause: [.running, .blocked]
            case .resume: [.paused]
            }
        }
    }

    public var state: DomainState {
        get throws { try domain.state().state }
    }

    /// Runs `action`. `paused` applies to `start`; `hard` to `reboot` (destroy, then start).
    func perform(_ action: Action, paused: Bool = false, hard: Bool = false) throws {
        let current = try state
        guard action.allowedStates.contains(current) else {
            throw HostError.invalidState(action: action.rawValue, state: current.description)
        }
        do {
            switch action {
            case .start: try launch(paused: paused)
            case .shutdown: try domain.shutdown()
            case .reboot where hard:
                try domain.destroy()
                try domain.create()
            case .reboot: try domain.reboot()
            case .destroy: try domain.destroy()
            case .pause: try domain.suspend()
            case .resume: try domain.resume()
            case .injectNMI: try domain.injectNMI()
            }
        } catch let error as LibvirtError where error.isOperationInvalid {
            // The state moved under us; say what it is now.
            throw HostError.invalidState(action: action.rawValue, state: (try? state.description) ?? "unknown")
        }
    }

    /// Starts the domain, paused when asked. Drivers that do not take the paused flag (the
    /// test driver) get a start followed at once by a pause.
    func launch(paused: Bool) throws {
        guard paused else { return try domain.create() }
        do {
            try domain.create(paused: true)
        } catch let error as LibvirtError where error.isInvalidArgument || error.isUnsupported {
            try domain.create()
            try domain.suspend()
        }
    }

    /// Removes the definition, with its managed-save image, snapshot metadata and NVRAM;
    /// drivers without those flags get a plain undefine. A running guest is refused unless
    /// `force`, which powers it off first. Disk files are never touched.
    func delete(force: Bool) throws {
        if try domain.isActive() {
            guard force else { throw HostError.invalidState(action: "delete", state: try state.description) }
            try domain.destroy()
        }
        guard try domain.isPersistent() else { return }  // a transient domain is gone once off
        do {
            try domain.undefine([.managedSave, .snapshotsMetadata, .nvram])
        } catch let error as LibvirtError where error.isUnsupported || error.isInvalidArgument {
            try domain.undefine()
        }
    }
}
