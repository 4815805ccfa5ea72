import GuestConfig
import Libvirt
import Locking
import Logging

/// Why a guest-agent call did not answer.
public enum AgentError: Error, Sendable {
    /// The domain has no agent channel, or no agent is connected to it: said at once.
    case unavailable(domain: String, reason: String)
    /// The agent did not answer within the response timeout.
    case timeout(domain: String, seconds: Int)
    /// The agent answered with an error of its own (a user that does not exist, a file system
    /// it cannot freeze).
    case commandFailed(domain: String, message: String)
    case host(HostError)
}

/// The QEMU guest agent of the Host's guests: addresses, guest information, passwords, file
/// system freezes, the clock, and agent-mode shutdown and reboot.
///
/// Whether the agent is connected is read from the domain's live XML on the Host's thread (a
/// quick call); every call that goes to the agent runs on a dedicated connection and thread
/// (``Host/withDedicatedConnection(threadName:_:)``) with libvirt's agent response timeout
/// set first, so a hung agent holds nothing but its own request, for at most that timeout.
/// A freeze nobody thaws is thawed after ``Configuration/freezeMaximum``.
public final class GuestAgent: Sendable {
    public struct Configuration: Sendable {
        /// How long libvirt waits for the agent (`virDomainAgentSetResponseTimeout`).
        public var responseTimeout: Duration
        /// How long a freeze may last before the service thaws it.
        public var freezeMaximum: Duration

        public init(responseTimeout: Duration = .seconds(5), freezeMaximum: Duration = .seconds(60)) {
            self.responseTimeout = responseTimeout
            self.freezeMaximum = freezeMaximum
        }
    }

    /// The agent's channel as the domain's live XML shows it.
    public struct Status: Sendable, Encodable {
        /// Whether the domain has the `org.qemu.guest_agent.0` channel.
        public let channel: Bool
        /// Whether an agent is connected to it now (libvirt's agent-lifecycle state).
        public let connected: Bool
        /// libvirt's channel state (`connected`, `disconnected`), or nil without a channel.
        @NullWhenAbsent public var state: String?
        /// Whether the service holds a freeze of this guest's file systems now.
        public let frozen: Bool
        /// Seconds until the service thaws that freeze by itself, or nil.
        @NullWhenAbsent public var autoThawInSeconds: Int?
        /// The response timeout agent calls are made with, in seconds.
        public let timeoutSeconds: Int
        /// The connected agent's version and enabled commands (`guest-info`); nil when no agent
        /// is connected, or when it did not answer within ``GuestAgent/infoTimeoutSeconds``.
        @NullWhenAbsent public var version: String?
        @NullWhenAbsent public var commands: [String]?

        enum CodingKeys: String, CodingKey {
            case channel, connected, state, frozen, version, commands, timeoutSeconds = "timeout_s",
                 autoThawInSeconds = "auto_thaw_in_s"
        }
    }

    /// How long a status waits for the agent's `guest-info`: a status answers quickly even when
    /// the agent hangs (libvirt waits this for its guest-sync, and again for the command).
    static let infoTimeoutSeconds: Int32 = 2

    public static let channelName = "org.qemu.guest_agent.0"

    public let host: Host
    public let configuration: Configuration
    let logger: Logger
    /// Each frozen guest's freeze, by UUID: its number (so an old timer never thaws a newer
    /// freeze) and when it is thawed by itself.
    private let freezes = Mutex<(next: UInt64, active: [String: (token: UInt64, thawAt: ContinuousClock.Instant)])>((1, [:]))

    public init(host: Host, configuration: Configuration = .init(), logger: Logger = Logger(label: "virthost.agent")) {
        self.host = host
        self.configuration = configuration
        self.logger = logger
    }

    var timeoutSeconds: Int { max(1, Int(configuration.responseTimeout.components.seconds)) }

    // MARK: The calls

    public func status(_ reference: String) async throws(AgentError) -> Status {
        let (uuid, state) = try await channelState(reference)
        var info: AgentInfo?
        if state == "connected" {
            // An agent that does not answer in time leaves version and commands null; the
            // status itself still answers.
            let seconds = min(Int32(timeoutSeconds), Self.infoTimeoutSeconds)
            let answer = try? await call(reference) { try $0.qemuAgentCommand(#"{"execute":"guest-info"}"#, timeoutSeconds: seconds) }
            info = answer.flatMap { AgentInfo.read(json: Array($0.utf8)) }
        }
        let freeze = freezes.withLock { $0.active[uuid] }
        let remaining = freeze.map { max(0, Int(($0.thawAt - .now).components.seconds)) }
        return Status(channel: state != nil, connected: state == "connected", state: state, frozen: freeze != nil,
                      autoThawInSeconds: remaining, timeoutSeconds: timeoutSeconds, version: info?.version,
                      commands: info?.commands)
    }

    public func interfaceAddresses(_ reference: String, source: Domain.AddressSource) async throws(AgentError)
        -> [Domain.InterfaceAddresses] {
        if source == .agent {
            return try await call(reference) { try $0.interfaceAddresses(source: .agent) }
        }
        // Leases and ARP are the host's own tables: no agent, and quick.
        do {
            return try await host.run { host throws(HostError) in
                try host.withDomain(reference) { try $0.interfaceAddresses(source: source) }
            }
        } catch {
            throw .host(error)
        }
    }

    public func guestInfo(_ reference: String) async throws(AgentError) -> [TypedParameter] {
        try await call(reference) { try $0.guestInfo() }
    }

    /// Sets a user's password. The password goes to libvirt and nowhere else: no log line,
    /// no error text of the service's holds it.
    public func setPassword(_ reference: String, user: String, password: String, encrypted: Bool) async throws(AgentError) {
        try await call(reference) { try $0.setUserPassword(user: user, password: password, encrypted: encrypted) }
    }

    /// Freezes the file systems (all when `mountpoints` is empty) and arms the automatic thaw.
    /// Returns how many were frozen.
    public func freeze(_ reference: String, mountpoints: [String]) async throws(AgentError) -> Int {
        let uuid = try await self.uuid(reference)
        let count = try await call(reference) { try $0.freezeFileSystems(mountpoints) }
        let maximum = configuration.freezeMaximum
        let token = freezes.withLock { state in
            let token = state.next
            state.next += 1
            state.active[uuid] = (token, .now + maximum)
            return token
        }
        Task { [weak self] in
            try? await Task.sleep(for: maximum)
            await self?.autoThaw(uuid: uuid, token: token)
        }
        return count
    }

    /// Thaws the file systems (all when `mountpoints` is empty); how many were thawed.
    public func thaw(_ reference: String, mountpoints: [String]) async throws(AgentError) -> Int {
        let uuid = try await self.uuid(reference)
        let count = try await call(reference) { try $0.thawFileSystems(mountpoints) }
        // A partial thaw leaves the rest frozen: the timer stays armed for them.
        if mountpoints.isEmpty { _ = freezes.withLock { $0.active.removeValue(forKey: uuid) } }
        return count
    }

    public func fileSystems(_ reference: String) async throws(AgentError) -> (frozen: Bool, fileSystems: [Domain.FileSystemInfo]) {
        let uuid = try await self.uuid(reference)
        do {
            let list = try await call(reference) { try $0.fileSystems() }
            return (freezes.withLock { $0.active[uuid] != nil }, list)
        } catch .commandFailed(_, let message) where message.contains("frozen state") {
            // qemu-ga refuses guest-get-fsinfo while frozen (by us or anyone): frozen, none listed.
            return (true, [])
        }
    }

    public func syncTime(_ reference: String) async throws(AgentError) {
        try await call(reference) { try $0.syncTime() }
    }

    /// How a shutdown or reboot was done.
    public enum PowerMode: String, Sendable, CaseIterable {
        case agent, acpi
    }

    /// Shuts the guest down (or reboots it) through the agent, or with ACPI. Asked for the
    /// agent when it is not connected, falls back to ACPI as Nova does, and says so.
    /// Like every power action, it holds the guest's lock, so it never falls between the
    /// steps of a multi-step change of the same guest.
    public func power(_ reference: String, reboot: Bool, mode: PowerMode) async throws(AgentError)
        -> (mode: PowerMode, fallbackReason: String?) {
        let guest: Guest
        do { guest = try await host.guest(for: reference) } catch { throw .host(error) }
        return try await guest.withPowerLock { () async throws(AgentError) in
            try await powerUnlocked(guest.uuid, reboot: reboot, mode: mode)
        }
    }

    private func powerUnlocked(_ reference: String, reboot: Bool, mode: PowerMode) async throws(AgentError)
        -> (mode: PowerMode, fallbackReason: String?) {
        var used = mode
        var reason: String?
        if mode == .agent {
            let (_, state) = try await channelState(reference)
            if state != "connected" {
                used = .acpi
                reason = state == nil ? "the domain has no guest agent channel" : "the guest agent is not connected"
            }
        }
        if used == .agent {
            try await call(reference) { try reboot ? $0.reboot(throughAgent: true) : $0.shutdown(throughAgent: true) }
        } else {
            do {
                try await host.run { host throws(HostError) in
                    try host.withDomain(reference) { domain in
                        let current = try domain.state().state
                        guard [.running, .blocked, .paused].contains(current) else {
                            throw HostError.invalidState(action: reboot ? "reboot" : "shut down", state: current.description)
                        }
                        do {
                            try reboot ? domain.reboot(throughAgent: false) : domain.shutdown(throughAgent: false)
                        } catch let error as LibvirtError where error.isInvalidArgument || error.isUnsupported {
                            // A driver without the ACPI flag (the test driver): its own way.
                            try reboot ? domain.reboot() : domain.shutdown()
                        }
                    }
                }
            } catch {
                throw .host(error)
            }
        }
        return (used, reason)
    }

    // MARK: Freezes

    /// Thaws a freeze still in force at its deadline.
    private func autoThaw(uuid: String, token: UInt64) async {
        let due = freezes.withLock { state -> Bool in
            guard state.active[uuid]?.token == token else { return false }
            state.active[uuid] = nil
            return true
        }
        guard due else { return }
        do {
            let count = try await call(uuid) { try $0.thawFileSystems() }
            logger.warning("guest file systems thawed after the freeze limit", metadata: [
                "domain": "\(uuid)", "thawed": "\(count)", "limit_s": "\(configuration.freezeMaximum.components.seconds)",
            ])
        } catch {
            logger.error("could not thaw guest file systems after the freeze limit", metadata: [
                "domain": "\(uuid)", "error": "\(error)",
            ])
        }
    }

    // MARK: Plumbing

    private func uuid(_ reference: String) async throws(AgentError) -> String {
        do {
            return try await host.run { host throws(HostError) in try host.withDomain(reference) { try $0.uuid() } }
        } catch {
            throw .host(error)
        }
    }

    /// The domain's UUID and its agent channel's state (nil without a channel), from its live XML.
    func channelState(_ reference: String) async throws(AgentError) -> (uuid: String, state: String?) {
        let read: (String, Bool, String)
        do {
            read = try await host.run { host throws(HostError) in
                try host.withDomain(reference) { (try $0.uuid(), try $0.isActive(), try $0.xml()) }
            }
        } catch {
            throw .host(error)
        }
        let (uuid, active, xml) = read
        guard active else { return (uuid, nil) }
        let tree: XMLTree
        do { tree = try XMLTree(xml, root: "domain") } catch { throw .host(.unreadable("\(error)")) }
        let target = tree.root.child("devices")?.children("channel").compactMap { $0.child("target") }
            .first { $0.attribute("name") == Self.channelName }
        guard let target else { return (uuid, nil) }
        return (uuid, target.attribute("state") ?? "disconnected")
    }

    /// Runs `body` with the domain on a dedicated connection, after checking that an agent is
    /// connected, with the response timeout set.
    @discardableResult
    func call<T: Sendable>(_ reference: String, _ body: @escaping @Sendable (Domain) throws -> T) async throws(AgentError) -> T {
        let (uuid, state) = try await channelState(reference)
        guard let state else {
            let running = (try? await host.run { host throws(HostError) in try host.withDomain(uuid) { try $0.isActive() } }) ?? false
            throw .unavailable(domain: reference, reason: running ? "the domain has no guest agent channel" : "the domain is not running")
        }
        guard state == "connected" else {
            throw .unavailable(domain: reference, reason: "no guest agent is connected to the domain's channel")
        }
        let seconds = Int32(timeoutSeconds)
        do {
            return try await host.withDedicatedConnection(threadName: "virthost-agent") { connection in
                let domain = try connection.lookupDomain(uuid: uuid)
                try domain.setAgentResponseTimeout(seconds: seconds)
                return try body(domain)
            }
        } catch {
            throw Self.agentError(error, reference: reference, seconds: Int(seconds))
        }
    }

    /// libvirt says "not connected", "not configured" or "not available due to an error"
    /// for an agent it cannot use, and reports a timeout with the same code otherwise; an
    /// error of the agent's own comes as an internal error naming the agent command.
    static func agentError(_ error: HostError, reference: String, seconds: Int) -> AgentError {
        guard case .libvirt(let libvirtError) = error else { return .host(error) }
        let message = libvirtError.message
        if libvirtError.isAgentUnresponsive {
            if message.contains("not connected") || message.contains("not configured") || message.contains("due to an error") {
                return .unavailable(domain: reference, reason: message)
            }
            return .timeout(domain: reference, seconds: seconds)
        }
        if libvirtError.code == 1, message.contains("agent") {
            return .commandFailed(domain: reference, message: message)
        }
        if libvirtError.isOperationInvalid, message.contains("not running") {
            return .unavailable(domain: reference, reason: "the domain is not running")
        }
        return .host(error)
    }
}
