import Libvirt

/// Power actions and removal.
extension Guest {
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

    /// Runs `action` and returns the domain after it. `paused` applies to `start`; `hard` to
    /// `reboot` (destroy, then start).
    @discardableResult
    public func perform(_ action: Action, paused: Bool = false, hard: Bool = false) async throws(HostError)
        -> DomainDetails {
        try await withPowerLock { () async throws(HostError) in
            try await withDomain { try Self.perform(action, on: $0, paused: paused, hard: hard) }
        }
        return try await details()
    }

    /// Runs `body` holding the guest's UUID lock, so a power action never falls between the
    /// steps of a multi-step change of the same guest (a creation, a device change, a delete).
    func withPowerLock<T, Failure: Error>(_ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        try await host.domainLocks.withLock(DomainLocks.keys(uuid: uuid, name: nil), body)
    }

    static func perform(_ action: Action, on domain: Domain, paused: Bool = false, hard: Bool = false) throws {
        let current = try domain.state().state
        guard action.allowedStates.contains(current) else {
            throw HostError.invalidState(action: action.rawValue, state: current.description)
        }
        do {
            switch action {
            case .start: try launch(domain, paused: paused)
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
            throw HostError.invalidState(action: action.rawValue,
                                         state: (try? domain.state().state.description) ?? "unknown")
        }
    }

    /// Starts the domain, paused when asked. Drivers that do not take the paused flag (the
    /// test driver) get a start followed at once by a pause.
    static func launch(_ domain: Domain, paused: Bool) throws {
        guard paused else { return try domain.create() }
        do {
            try domain.create(paused: true)
        } catch let error as LibvirtError where error.isInvalidArgument || error.isUnsupported {
            try domain.create()
            try domain.suspend()
        }
    }

    /// Starts the guest (a step of creation; no state check, the domain was just defined).
    func launch(paused: Bool) async throws(HostError) {
        try await withDomain { try Self.launch($0, paused: paused) }
    }

    /// A graceful shutdown that waits up to `timeout` for the guest to power off, polling its
    /// state without holding the Host between polls; with `force`, a guest still running
    /// then is destroyed.
    public func shutdown(timeout: Duration?, force: Bool) async throws(HostError) -> DomainDetails {
        // The lock is held for each step, not across the wait: a delete may come meanwhile.
        try await withPowerLock { () async throws(HostError) in try await withDomain { try Self.perform(.shutdown, on: $0) } }
        if let timeout {
            let deadline = ContinuousClock.now + timeout
            while try await isActive(), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(250))
            }
            if force {
                let logger = host.logger, uuid = uuid
                try await withPowerLock { () async throws(HostError) in
                    try await withDomain { domain in
                        if try domain.isActive() {
                            logger.info("guest did not shut down in time; destroying it", metadata: ["domain": "\(uuid)"])
                            try domain.destroy()
                        }
                    }
                }
            }
        }
        return try await details()
    }

    /// Removes the definition, with its managed-save image, snapshot metadata and NVRAM;
    /// drivers without those flags get a plain undefine. A running guest is refused unless
    /// `force`, which powers it off first. Disk files are never touched.
    public func undefine(force: Bool) async throws(HostError) {
        try await withDomain { domain in
            if try domain.isActive() {
                guard force else {
                    throw HostError.invalidState(action: "delete", state: try domain.state().state.description)
                }
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

    /// Undoes a creation: powers the domain off if it runs and removes its definition. True
    /// when the definition is gone.
    func discard() async -> Bool {
        (try? await withDomain { domain -> Bool in
            if (try? domain.isActive()) == true { try? domain.destroy() }
            return (try? domain.undefine([.managedSave, .nvram])) != nil || (try? domain.undefine()) != nil
        }) ?? false
    }
}
