import Libvirt
import Logging

/// The hypervisor host (Nova's host.py `Host`): owns the one libvirt connection and
/// serialises every libvirt call on a thread of its own.
///
/// The connection is opened by ``connect()`` and, after a loss, lazily by the next call.
/// Reconnect attempts back off exponentially up to a cap; in between, calls fail fast with
/// ``HostError/hypervisorUnavailable(reason:retryAfter:)``.
public actor Host {
    public struct Configuration: Sendable {
        public var uri: String
        public var readOnly: Bool
        /// Wait after the first failed reconnect; doubles with each failure up to `maximumRetryDelay`.
        public var initialRetryDelay: Duration
        public var maximumRetryDelay: Duration
        /// libvirt keepalive for remote connections: seconds between probes, and how many
        /// may go unanswered before the connection is declared dead.
        public var keepAliveInterval: Int32
        public var keepAliveCount: UInt32
        /// Where guests' disk images live: the file system whose space the metrics report.
        public var instancesPath: String
        /// The storage pool the volumes the service makes for guests go in; created as a dir
        /// pool on the instances path the first time one is needed, when missing.
        public var instancesPool: String = "default"
        /// Directories guests' file and block disks must lie in; the instances path when empty.
        public var allowedDiskRoots: [String]
        /// The event stream's buffer, queues and stop-event coalescing.
        public var events: EventHub.Configuration
        /// How long a host-metrics sample may be reused.
        public var metricsMaxAge: Duration
        /// The monotonic time the back-off and the metrics' age are measured in. Tests give a
        /// clock they advance by hand, so no machine is too slow for a back-off's window.
        public var now: @Sendable () -> ContinuousClock.Instant = { .now }
        /// Where guests created get their serial console's log (`NAME-serial0.log`), and the
        /// only place `GET /console/log` reads from; nil: no log (the service sets it).
        public var consoleLogDirectory: String?
        /// How first-boot disks' ISO images are made: the tool, its time limit, where it works.
        public var isoImage = ISOImage.Configuration()

        public init(uri: String, readOnly: Bool = false, instancesPath: String = "/var/lib/libvirt/images",
                    allowedDiskRoots: [String] = [], events: EventHub.Configuration = .init(),
                    metricsMaxAge: Duration = .seconds(1),
                    initialRetryDelay: Duration = .milliseconds(250), maximumRetryDelay: Duration = .seconds(1),
                    keepAliveInterval: Int32 = 5, keepAliveCount: UInt32 = 3) {
            self.uri = uri
            self.readOnly = readOnly
            self.initialRetryDelay = initialRetryDelay
            self.maximumRetryDelay = maximumRetryDelay
            self.keepAliveInterval = keepAliveInterval
            self.keepAliveCount = keepAliveCount
            self.instancesPath = instancesPath
            self.allowedDiskRoots = allowedDiskRoots
            self.events = events
            self.metricsMaxAge = metricsMaxAge
        }
    }

    public nonisolated let configuration: Configuration
    public nonisolated var uri: String { configuration.uri }

    private let executor = ThreadExecutor(name: "virthost-host")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let logger: Logger
    /// ``Configuration/now``.
    var now: ContinuousClock.Instant { configuration.now() }

    private var connection: Connection?
    /// Counts opened connections, so a close callback of an older one changes nothing.
    private var generation = 0
    private var lastFailure = "not connected yet"
    private var retryAt: ContinuousClock.Instant?
    private var retryDelay: Duration
    private var cachedHostname: String?
    private var keepAliveAbsenceLogged = false
    /// Whether libvirt keepalive runs on the open connection (remote drivers); a dead peer is
    /// then noticed within interval × (count + 1) seconds.
    public private(set) var keepAliveEnabled = false
    /// Set when a connection is lost, so the next one is announced as restored and resynced.
    private var lostConnection = false
    private var reconnectTask: Task<Void, Never>?
    /// Set while ``keepConnected()`` runs (under ``HostService``): it reconnects, not a task
    /// of the Host's own.
    private(set) var reconnectsAsService = false
    /// ``keepConnected()`` waiting for the next loss.
    private var lossWaiter: CheckedContinuation<Void, Never>?
    /// The last host-metrics sample and when it was taken.
    var lastMetrics: (sample: HostMetrics, at: ContinuousClock.Instant)?
    /// Fresh host-metrics samples asked for while one is taken, answered together.
    let metricsSweeps = CallCoalescer<Int, Result<HostMetrics, HostError>>()
    /// Each domain's file-backed disks, by UUID, as of the last metrics sweep.
    var diskTypeMemo: [String: DiskTypeMemo] = [:]
    private var cachedFacts: ConnectionFacts?
    /// Domain listings asked for while one runs, answered together, and how many sweeps ran.
    let domainListings = CallCoalescer<DomainListingRequest, Result<DomainListing, HostError>>()
    var domainSweeps: UInt64 = 0

    /// Locks by domain UUID and name for ``Provisioning``'s multi-step sequences.
    public nonisolated let domainLocks = DomainLocks()

    /// Lifecycle, reboot, device-removed and connection events, for every subscriber.
    public nonisolated let events: EventHub
    let domainStates = DomainStateTracker()

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.retryDelay = configuration.initialRetryDelay
        self.events = EventHub(configuration: configuration.events)
    }

    // MARK: Connection

    /// Opens the connection now (the service calls it at start). Throws
    /// ``HostError/hypervisorUnavailable(reason:retryAfter:)`` when libvirt cannot be reached;
    /// later calls retry.
    public func connect() throws(HostError) {
        _ = try connected()
    }

    /// Whether a connection is open now.
    public var isConnected: Bool { connection != nil }

    /// Closes the connection (at shutdown). Later calls reconnect.
    public func disconnect() {
        reconnectTask?.cancel()
        reconnectTask = nil
        guard connection != nil else { return }
        connection = nil
        generation += 1
        lastFailure = "disconnected"
        retryAt = nil
        logger.info("libvirt connection closed", metadata: ["uri": "\(uri)"])
    }

    /// Runs `body` with the open connection, opening one first where needed. A libvirt error
    /// that means the connection is gone drops it, so the next call reconnects.
    public func withConnection<T>(_ body: (Connection) throws -> T) throws(HostError) -> T {
        let connection = try connected()
        do {
            return try body(connection)
        } catch let error as LibvirtError {
            if error.isConnectionLoss {
                connectionLost(reason: error.message)
                throw .hypervisorUnavailable(reason: error.message, retryAfter: .zero)
            }
            throw .libvirt(error)
        } catch let error as HostError {
            throw error
        } catch {
            throw .libvirt(LibvirtError(code: -1, domain: -1, message: "\(error)"))
        }
    }

    private func connected() throws(HostError) -> Connection {
        if let connection { return connection }
        let current = now
        if let retryAt, current < retryAt {
            throw .hypervisorUnavailable(reason: lastFailure, retryAfter: retryAt - current)
        }
        do {
            try EventLoop.shared.start()
            let connection = try Connection(uri: uri, readOnly: configuration.readOnly)
            generation += 1
            let generation = generation
            try connection.onClose { [weak self] reason in
                // On libvirt's event loop thread: hand the news over, nothing more.
                guard let self else { return }
                Task { await self.connectionClosed(generation: generation, reason: reason) }
            }
            enableKeepAlive(on: connection)
            subscribeToEvents(on: connection)
            self.connection = connection
            retryAt = nil
            retryDelay = configuration.initialRetryDelay
            reconnectTask?.cancel()
            reconnectTask = nil
            logger.info("libvirt connection opened", metadata: ["uri": "\(uri)"])
            resync(connection)
            return connection
        } catch {
            let reason = (error as? LibvirtError)?.message ?? "\(error)"
            lastFailure = reason
            let delay = retryDelay
            // From when the attempt failed: an attempt can itself take a while (libvirtd
            // starting, a remote peer), and the wait is what follows it.
            retryAt = now + delay
            retryDelay = min(retryDelay * 2, configuration.maximumRetryDelay)
            logger.warning("cannot connect to libvirt", metadata: [
                "uri": "\(uri)", "error": "\(reason)", "retry_in": "\(delay)",
            ])
            throw .hypervisorUnavailable(reason: reason, retryAfter: delay)
        }
    }

    /// Keepalive lets a dead remote peer be noticed in bounded time. Local drivers have none;
    /// that is said once, at debug level, and is not an error.
    private func enableKeepAlive(on connection: Connection) {
        keepAliveEnabled = false
        do {
            if try connection.setKeepAlive(interval: configuration.keepAliveInterval,
                                           count: configuration.keepAliveCount) {
                keepAliveEnabled = true
                return
            }
        } catch let error as LibvirtError where !error.isUnsupported {
            logger.warning("libvirt keepalive not enabled", metadata: ["uri": "\(uri)", "error": "\(error)"])
            return
        } catch {}
        if !keepAliveAbsenceLogged {
            keepAliveAbsenceLogged = true
            logger.debug("libvirt driver has no keepalive", metadata: ["uri": "\(uri)"])
        }
    }

    /// Registers for domain events; the handler runs on libvirt's event loop thread and only
    /// hands each event to the tracker and the hub.
    private func subscribeToEvents(on connection: Connection) {
        let events = events, states = domainStates
        do {
            try connection.onDomainEvents { event in
                let hostEvent = HostEvent(event)
                states.apply(hostEvent)
                events.publish(hostEvent)
            }
        } catch {
            logger.warning("libvirt domain events are not available", metadata: ["uri": "\(uri)", "error": "\(error)"])
        }
    }

    /// Reads every domain's state. After a loss, announces the restored connection and emits
    /// a synthetic event for each change the lost connection did not report.
    private func resync(_ connection: Connection) {
        var now: [String: DomainStateTracker.Known] = [:]
        for domain in (try? connection.listAllDomains()) ?? [] {
            guard let uuid = try? domain.uuid(), let name = try? domain.name(), let state = try? domain.state().state
            else { continue }
            now[uuid] = .init(name: name, state: state.description)
        }
        if lostConnection {
            lostConnection = false
            events.publish(.connection("restored"))
            let missed = DomainStateTracker.changes(from: domainStates.snapshot, to: now)
            for event in missed { events.publish(event) }
            if !missed.isEmpty { logger.info("events missed while disconnected", metadata: ["count": "\(missed.count)"]) }
        }
        domainStates.reset(now)
    }

    /// Keeps the connection up for as long as it runs (``HostService`` runs it, and cancels it
    /// at shutdown): after each loss, tries to reconnect with the usual back-off, so the event
    /// stream resumes even when no request comes. A Host not run as a service does the same
    /// in a task of its own.
    public func keepConnected() async {
        reconnectsAsService = true
        defer { reconnectsAsService = false }
        while !Task.isCancelled {
            if connection != nil {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { lossWaiter = $0 }
                } onCancel: {
                    Task { await self.wakeLossWaiter() }
                }
                continue
            }
            guard let wait = reconnectWait() else { continue }
            try? await Task.sleep(for: wait)
            if Task.isCancelled { return }
            _ = try? connect()
        }
    }

    /// Whether a reconnect task of the Host's own runs (not under a service); for tests.
    var reconnectsInOwnTask: Bool { reconnectTask != nil }

    private func wakeLossWaiter() {
        lossWaiter?.resume()
        lossWaiter = nil
    }

    /// After a loss, keeps trying to reconnect in the background (with the usual back-off), so
    /// the event stream resumes even when no request comes.
    private func scheduleReconnect() {
        guard reconnectTask == nil else { return }
        reconnectTask = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                let wait = await self.reconnectWait()
                guard let wait else { return }
                try? await Task.sleep(for: wait)
                if Task.isCancelled { return }
                _ = try? await self.connect()
            }
        }
    }

    /// How long until the next reconnect attempt; nil when connected.
    private func reconnectWait() -> Duration? {
        guard connection == nil else {
            reconnectTask = nil
            return nil
        }
        guard let retryAt else { return .milliseconds(100) }
        return max(retryAt - now, .milliseconds(10))
    }

    private func connectionClosed(generation closed: Int, reason: Connection.CloseReason) {
        guard closed == generation, connection != nil else { return }
        connectionLost(reason: "connection closed: \(reason)")
    }

    /// Drops the connection after a loss; the next call reconnects at once, then backs off.
    /// Internal so that tests can inject the loss the test driver cannot produce.
    func connectionLost(reason: String) {
        guard connection != nil else { return }
        connection = nil
        generation += 1
        lastFailure = reason
        retryAt = nil
        logger.warning("libvirt connection lost", metadata: ["uri": "\(uri)", "reason": "\(reason)"])
        lostConnection = true
        events.publish(.connection("lost", reason: reason))
        if reconnectsAsService {
            wakeLossWaiter()
        } else {
            scheduleReconnect()
        }
    }

    // MARK: Host facts

    /// The host's name, read once per process and cached, as Nova does: if libvirt later
    /// reports another name, a warning is logged and the first one is kept.
    public func hostname() throws(HostError) -> String {
        let current = try withConnection { try $0.hostname() }
        guard let cachedHostname else {
            cachedHostname = current
            return current
        }
        if current != cachedHostname {
            logger.warning("hostname has changed; keeping the first one", metadata: [
                "cached": "\(cachedHostname)", "reported": "\(current)",
            ])
        }
        return cachedHostname
    }

    func _setCachedHostnameForTesting(_ name: String) { cachedHostname = name }

    /// Answers when the hypervisor answers a cheap call.
    public func ping() throws(HostError) {
        _ = try withConnection { try $0.libraryVersion() }
    }

    public func nodeInfo() throws(HostError) -> NodeInfo {
        try withConnection { try $0.nodeInfo() }
    }

    public func capabilitiesXML() throws(HostError) -> String {
        try withConnection { try $0.capabilities() }
    }

    /// What does not change while a connection lasts: the driver's type and versions, and the
    /// parsed capabilities (a libvirtd upgrade or a new host CPU comes with a new connection).
    struct ConnectionFacts {
        var generation: Int
        var hypervisorType: String
        var hypervisorVersion: LibvirtVersion
        var libraryVersion: LibvirtVersion
        var capabilities: HostCapabilities
    }

    /// The facts of the current connection, read once per connection.
    func connectionFacts() throws(HostError) -> ConnectionFacts {
        let connection = try connected()
        if let facts = cachedFacts, facts.generation == generation { return facts }
        let (type, hypervisor, library, xml) = try withConnection { _ in
            (try connection.hypervisorType(), try connection.hypervisorVersion(), try connection.libraryVersion(),
             try connection.capabilities())
        }
        let facts = ConnectionFacts(generation: generation, hypervisorType: type, hypervisorVersion: hypervisor,
                                    libraryVersion: library, capabilities: try parse { try HostCapabilities(xml: xml) })
        cachedFacts = facts
        return facts
    }

    public func summary() throws(HostError) -> HostSummary {
        let hostname = try hostname()
        let facts = try connectionFacts()
        return HostSummary(hostname: hostname, uri: uri, hypervisorType: facts.hypervisorType,
                           hypervisorVersion: facts.hypervisorVersion, libvirtVersion: facts.libraryVersion,
                           cpuArch: facts.capabilities.cpu.arch, cpuModel: facts.capabilities.cpu.model)
    }

    /// Parses a document libvirt returned; a failure is ``HostError/unreadable(_:)``.
    func parse<T>(_ body: () throws -> T) throws(HostError) -> T {
        do {
            return try body()
        } catch {
            throw .unreadable("\(error)")
        }
    }

    // MARK: Version checks

    /// Nova's `has_min_version`: true when every given part is at least the host's.
    public func hasMinVersion(libvirt: LibvirtVersion? = nil, hypervisor: LibvirtVersion? = nil,
                              type: String? = nil) -> Bool {
        check(VersionCheck(libvirt: libvirt, hypervisor: hypervisor, hypervisorType: type, comparison: .minimum))
    }

    /// Nova's `has_version`: true when every given part equals the host's.
    public func hasVersion(libvirt: LibvirtVersion? = nil, hypervisor: LibvirtVersion? = nil,
                           type: String? = nil) -> Bool {
        check(VersionCheck(libvirt: libvirt, hypervisor: hypervisor, hypervisorType: type, comparison: .exact))
    }

    public func check(_ versionCheck: VersionCheck) -> Bool {
        guard let connection = try? connected() else { return false }
        return versionCheck.isSatisfied(
            libvirtVersion: { try connection.libraryVersion() },
            hypervisorVersion: { try connection.hypervisorVersion() },
            hypervisorType: { try connection.hypervisorType() }
        )
    }
}
