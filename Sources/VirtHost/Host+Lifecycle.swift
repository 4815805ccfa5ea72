import Libvirt

/// Creating, powering and deleting guests. Each call is one turn of the Host actor, so writes
/// to a domain never interleave: of two creates racing with one name, the second finds the
/// first's domain and gets ``HostError/domainExists(_:)``.
extension Host {
    /// Runs `body` with the ``Guest`` that `reference` names.
    public func withGuest<T>(_ reference: String, _ body: (Guest) throws -> T) throws(HostError) -> T {
        try withDomain(reference) { try body(Guest($0)) }
    }

    /// Defines a domain from `xml` and starts it when asked. Atomic from the caller's view:
    /// an existing domain with the name or UUID is refused before anything is made, and if the
    /// start fails, the definition just made is removed again.
    public func createGuest(xml: String, name: String, uuid: String, start: Bool, paused: Bool) throws(HostError)
        -> DomainDetails {
        try withConnection { connection in
            for reference in [name, uuid] {
                let existing = reference == uuid ? try? connection.lookupDomain(uuid: uuid)
                    : try? connection.lookupDomain(name: name)
                if existing != nil { throw HostError.domainExists(reference) }
            }
            let domain: Domain
            do {
                domain = try connection.defineDomain(xml: xml, flags: [.validate])
            } catch let error as LibvirtError where !error.isConnectionLoss {
                throw HostError.stepFailed(step: "define", error: error, rolledBack: false)
            }
            if start {
                do {
                    try Guest(domain).launch(paused: paused)
                } catch let error as LibvirtError {
                    // A start that half-happened (started, then could not pause) is undone too.
                    if (try? domain.isActive()) == true { try? domain.destroy() }
                    let rolledBack = (try? domain.undefine([.managedSave, .nvram])) != nil
                        || (try? domain.undefine()) != nil
                    logger.warning("guest did not start; its definition was removed", metadata: [
                        "domain": "\(name)", "error": "\(error.message)", "rolled_back": "\(rolledBack)",
                    ])
                    throw HostError.stepFailed(step: "start", error: error, rolledBack: rolledBack)
                }
            }
            logger.info("guest created", metadata: ["domain": "\(name)", "uuid": "\(uuid)", "started": "\(start)"])
            return try DomainDetails(summary: try DomainSummary(domain), cpuTimeNanoseconds: try domain.info().cpuTimeNanoseconds,
                                     xml: try domain.xml())
        }
    }

    /// Performs a power action and returns the domain after it.
    public func perform(_ action: Guest.Action, on reference: String, paused: Bool = false, hard: Bool = false)
        throws(HostError) -> DomainDetails {
        try withGuest(reference) { guest in try guest.perform(action, paused: paused, hard: hard) }
        return try domain(reference)
    }

    /// A graceful shutdown that waits up to `timeout` for the guest to power off, polling its
    /// state without holding the Host between polls; with `force`, a guest still running
    /// then is destroyed.
    public func shutdown(_ reference: String, timeout: Duration?, force: Bool) async throws(HostError) -> DomainDetails {
        try withGuest(reference) { guest in try guest.perform(.shutdown) }
        if let timeout {
            let deadline = ContinuousClock.now + timeout
            while try withGuest(reference, { try $0.domain.isActive() }), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(250))
            }
            if force {
                try withGuest(reference) { guest in
                    if try guest.domain.isActive() {
                        logger.info("guest did not shut down in time; destroying it", metadata: ["domain": "\(reference)"])
                        try guest.domain.destroy()
                    }
                }
            }
        }
        return try domain(reference)
    }

    /// Undefines a domain (see ``Guest/delete(force:)``).
    public func deleteGuest(_ reference: String, force: Bool) throws(HostError) {
        try withGuest(reference) { guest in try guest.delete(force: force) }
        logger.info("guest deleted", metadata: ["domain": "\(reference)"])
    }

    /// Each vCPU of a running domain.
    public func vcpus(_ reference: String) throws(HostError) -> [VCPUInfo] {
        try withGuest(reference) { guest in
            guard try guest.domain.isActive() else {
                throw HostError.invalidState(action: "read the vCPUs of", state: try guest.state.description)
            }
            return try guest.domain.vcpus()
        }
    }

    /// What a new device must not collide with, and where it applies by default.
    public struct DeviceInventory: Sendable {
        public var uuid: String
        public var targets: Set<String>
        public var macs: Set<String>
        public var active: Bool
        public var persistent: Bool
    }

    public func deviceInventory(_ reference: String) throws(HostError) -> DeviceInventory {
        try withDomain(reference) { domain in
            let description = try DomainDescription(xml: try domain.xml())
            return DeviceInventory(uuid: try domain.uuid(), targets: Set(description.disks.compactMap(\.target)),
                                   macs: Set(description.interfaces.compactMap { $0.mac?.lowercased() }),
                                   active: try domain.isActive(), persistent: try domain.isPersistent())
        }
    }

    public func attachDevice(_ reference: String, xml: String, impact: DomainModificationImpact) throws(HostError)
        -> DomainDetails {
        try withDomain(reference) { try $0.attachDevice(xml: xml, impact) }
        return try domain(reference)
    }

    /// Removes the disk with target `identifier`, the interface with that MAC, or the PCI
    /// device at that address.
    public func detachDevice(_ reference: String, identifier: String, impact: DomainModificationImpact)
        throws(HostError) -> DomainDetails {
        try withDomain(reference) { domain in
            let xml = try domain.xml(impact.contains(.live) ? [] : [.inactive])
            guard let device = try DomainDescription.deviceXML(in: xml, identifier: identifier) else {
                throw HostError.deviceNotFound(identifier)
            }
            try domain.detachDevice(xml: device, impact)
        }
        return try domain(reference)
    }
}
