import FoundationEssentials
import GuestConfig
import Libvirt
import Locking

/// Why a migration request is refused; the host's own errors stay ``HostError``.
public enum MigrationError: Error, Sendable, CustomStringConvertible {
    /// The destination is not one the service was allowed to migrate to (`--migration-destination`).
    case destinationNotAllowed(String)
    /// The checks found problems; nothing was started.
    case refused(MigrationPlan)
    /// No migration of this domain is running.
    case notMigrating(domain: String)
    /// The running migration was started without `postcopy`.
    case postcopyNotEnabled(domain: String)

    public var description: String {
        switch self {
        case .destinationNotAllowed(let uri): "migrations to \(uri) are not allowed on this host"
        case .refused(let plan):
            "domain \(plan.domainName) cannot migrate: " + plan.problems.map(\.detail).joined(separator: "; ")
        case .notMigrating(let domain): "domain \(domain) is not migrating"
        case .postcopyNotEnabled(let domain):
            "the migration of domain \(domain) was started without postcopy, so it cannot switch to post-copy"
        }
    }
}

/// What a finished migration did.
public struct MigrationOutcome: Sendable, Hashable, Encodable {
    /// The libvirt URI of the host the guest now runs on.
    public var destination: String
    public var domain: String
    public var uuid: String
    public var persistentOnDestination: Bool
    public var sourceUndefined: Bool
    public var postcopy: Bool
    /// How long the guest was paused at the end, as libvirt measured it.
    @NullWhenAbsent public var downtimeMs: UInt64?
    @NullWhenAbsent public var elapsedMs: UInt64?
    @NullWhenAbsent public var transferredBytes: UInt64?

    enum CodingKeys: String, CodingKey {
        case destination, domain, uuid, postcopy
        case persistentOnDestination = "persistent_on_destination"
        case sourceUndefined = "source_undefined"
        case downtimeMs = "downtime_ms"
        case elapsedMs = "elapsed_ms"
        case transferredBytes = "transferred_bytes"
    }
}

/// Live migration of the Host's domains to another libvirt, given the operations registry: a
/// check that changes nothing, then a peer-to-peer migration (`virDomainMigrateToURI3`) run
/// as an operation on a dedicated connection, watched with `virDomainGetJobStats`,
/// cancellable (`virDomainAbortJob`), switchable to post-copy and tunable while it runs.
public final class Migrations: Sendable {
    public struct Configuration: Sendable {
        /// The destinations allowed, as prefixes of their URIs; empty allows any.
        public var allowedDestinations: [String]
        /// How long the check waits for the destination's libvirt to answer.
        public var checkTimeout: Duration

        public init(allowedDestinations: [String] = [], checkTimeout: Duration = .seconds(20)) {
            self.allowedDestinations = allowedDestinations
            self.checkTimeout = checkTimeout
        }

        public func allows(_ destination: String) -> Bool {
            allowedDestinations.isEmpty || allowedDestinations.contains { destination.hasPrefix($0) }
        }
    }

    public let operations: Operations
    public let configuration: Configuration
    var host: Host { operations.host }
    /// The migrations this service runs now, by operation id.
    let running = Mutex<[String: Running]>([:])

    struct Running: Sendable {
        var uuid: String
        var postcopyAllowed: Bool
        var postcopyStarted = false
    }

    public init(operations: Operations, configuration: Configuration = .init()) {
        self.operations = operations
        self.configuration = configuration
    }

    /// Every check a migration makes first, with nothing changed on either host.
    public func check(domain reference: String, _ request: MigrationRequest) async throws -> MigrationPlan {
        guard configuration.allows(request.destination) else { throw MigrationError.destinationNotAllowed(request.destination) }
        let uuid = try await host.guest(for: reference).uuid
        let source = try await host.withDedicatedConnection(threadName: "virthost-migrate") { connection in
            try MigrationCheck.source(connection, uuid: uuid)
        }
        let destination = request.destination, copyStorage = request.copyStorage, uri = host.uri
        let timeout = configuration.checkTimeout
        return await Self.withDeadline(timeout, onTimeout: {
            MigrationCheck.unreachable(source, destination: destination, reason: "no answer within \(timeout)")
        }) { [host] in
            do {
                return try await host.withDedicatedConnection(threadName: "virthost-migrate") { connection in
                    let remote: Connection
                    do {
                        remote = try Connection(uri: destination)
                    } catch {
                        return MigrationCheck.unreachable(source, destination: destination,
                                                          reason: (error as? LibvirtError)?.message ?? "\(error)")
                    }
                    return MigrationCheck.plan(source, sourceConnection: connection, destination: remote,
                                               copyStorage: copyStorage)
                }
            } catch {
                return MigrationCheck.unreachable(source, destination: destination,
                                                  reason: "the source libvirt at \(uri) failed: \(error)")
            }
        }
    }

    /// Checks, then starts the migration as an operation; refused with the problems when the
    /// check finds any.
    public func migrate(domain reference: String, _ request: MigrationRequest) async throws -> Operation {
        let plan = try await check(domain: reference, request)
        guard plan.possible else { throw MigrationError.refused(plan) }
        let uuid = plan.domainUUID, host = host
        var flags: DomainMigrateFlags = [.peerToPeer, .abortOnError]
        if request.live { flags.insert(.live) }
        if request.persistent { flags.insert(.persistDestination) }
        if request.undefineSource { flags.insert(.undefineSource) }
        if !plan.copiedDisks.isEmpty { flags.insert(.nonSharedDisk) }
        if plan.hasProvenSharedDisks { flags.insert(.unsafe) }
        if request.autoConverge { flags.insert(.autoConverge) }
        if request.postcopy { flags.insert(.postCopy) }
        if request.compressed { flags.insert(.compressed) }
        if request.tls { flags.insert(.tls) }
        let parameters = DomainMigrateParameters(migrationURI: request.destinationURI,
                                                 bandwidthMiBs: request.bandwidthMiBs.map(UInt64.init),
                                                 disks: plan.copiedDisks)
        let downtime = request.maxDowntimeMilliseconds.map(UInt64.init)
        let operation = operations.start(
            kind: "migration", target: .domain(name: plan.domainName, uuid: uuid), progress: Operation.Progress(phase: "starting"),
            sample: { [self] in
                let postcopy = running.withLock { $0.values.first { $0.uuid == uuid }?.postcopyStarted ?? false }
                guard let job = try? await host.withConnection({ try $0.lookupDomain(uuid: uuid).jobStatistics() }),
                      job.kind != .none else { return nil }
                return Self.progress(job.statistics, postcopy: postcopy)
            },
            onCancel: { _ = try? await host.withConnection { try $0.lookupDomain(uuid: uuid).abortJob() } }
        ) { [self, flags] context in
            running.withLock { $0[context.id] = Running(uuid: uuid, postcopyAllowed: request.postcopy) }
            defer { _ = running.withLock { $0.removeValue(forKey: context.id) } }
            // libvirt reports the downtime in the job-completed event as the migration ends.
            let completions = host.events.subscribe(EventFilter(domains: [uuid], types: [HostEvent.Kind.jobCompleted.rawValue]))
            defer { completions.finish() }
            let outcome: Result<Void, any Error>
            do {
                outcome = .success(try await host.withDedicatedConnection(threadName: "virthost-migrate") { connection in
                    let domain = try connection.lookupDomain(uuid: uuid)
                    if let downtime { try domain.setMigrationMaxDowntime(milliseconds: downtime) }
                    try domain.migrate(to: request.destination, parameters, flags: flags)
                })
            } catch {
                outcome = .failure(error)
            }
            if case .failure = outcome, context.isCancelRequested { throw OperationError.cancelled }
            try outcome.get()
            let statistics = await Self.firstEvent(completions, within: .seconds(3))?.job ?? []
            let postcopy = running.withLock { $0[context.id]?.postcopyStarted ?? false }
            return .migration(MigrationOutcome(
                destination: request.destination, domain: plan.domainName, uuid: uuid,
                persistentOnDestination: request.persistent, sourceUndefined: request.undefineSource, postcopy: postcopy,
                downtimeMs: Self.unsigned(statistics["downtime"]), elapsedMs: Self.unsigned(statistics["time_elapsed"]),
                transferredBytes: Self.unsigned(statistics["data_processed"])))
        }
        return operation
    }

    /// The running migration of this domain, started by this service.
    private func runningMigration(_ reference: String) async throws -> (operation: Operation, running: Running) {
        let uuid = try await host.guest(for: reference).uuid
        let found = running.withLock { running in running.first { $0.value.uuid == uuid } }
        guard let found, let operation = try? operations.operation(found.key), !operation.state.isFinished else {
            throw MigrationError.notMigrating(domain: reference)
        }
        return (operation, found.value)
    }

    /// Switches the domain's running migration to post-copy: the guest runs on the
    /// destination from now on, and its memory follows on demand.
    public func startPostCopy(domain reference: String) async throws -> Operation {
        let (operation, migration) = try await runningMigration(reference)
        guard migration.postcopyAllowed else { throw MigrationError.postcopyNotEnabled(domain: reference) }
        let uuid = migration.uuid
        try await host.withConnection { try $0.lookupDomain(uuid: uuid).migrateStartPostCopy() }
        running.withLock { $0[operation.id]?.postcopyStarted = true }
        return try operations.operation(operation.id)
    }

    /// Changes the running migration's downtime limit and bandwidth.
    public func tune(domain reference: String, _ tuning: MigrationTuning) async throws -> Operation {
        let (operation, migration) = try await runningMigration(reference)
        let uuid = migration.uuid
        try await host.withConnection { connection in
            let domain = try connection.lookupDomain(uuid: uuid)
            if let downtime = tuning.maxDowntimeMilliseconds { try domain.setMigrationMaxDowntime(milliseconds: UInt64(downtime)) }
            if let bandwidth = tuning.bandwidthMiBs { try domain.setMigrationMaxSpeed(mibPerSecond: UInt(bandwidth)) }
        }
        return try operations.operation(operation.id)
    }

    // MARK: Helpers

    static func progress(_ statistics: [TypedParameter], postcopy: Bool) -> Operation.Progress {
        func transfer(_ prefix: String) -> Operation.Progress.Transfer? {
            guard let total = unsigned(statistics[prefix + "_total"]) else { return nil }
            return .init(total: total, processed: unsigned(statistics[prefix + "_processed"]) ?? 0,
                         remaining: unsigned(statistics[prefix + "_remaining"]) ?? 0)
        }
        var progress = Operation.Progress(
            processedBytes: unsigned(statistics["data_processed"]), totalBytes: unsigned(statistics["data_total"]),
            remainingBytes: unsigned(statistics["data_remaining"]))
        progress.memory = transfer("memory")
        progress.disk = transfer("disk")
        progress.iteration = unsigned(statistics["memory_iteration"])
        if postcopy {
            progress.phase = "postcopy"
        } else if let disk = progress.disk, disk.total > 0, disk.remaining > 0 {
            progress.phase = "disk"
        } else {
            progress.phase = "memory"
        }
        return progress
    }

    static func unsigned(_ value: TypedParameter.Value?) -> UInt64? {
        guard let number = value?.number, number >= 0 else { return nil }
        return UInt64(number)
    }

    /// The first event of `subscription`, or nil when none comes within `limit`.
    static func firstEvent(_ subscription: EventSubscription, within limit: Duration) async -> HostEvent? {
        let timer = Task {
            try? await Task.sleep(for: limit)
            subscription.finish()
        }
        defer { timer.cancel() }
        while let item = await subscription.next() {
            if case .event(let event) = item { return event }
        }
        return nil
    }

    /// `work`'s answer, or `onTimeout`'s when `work` takes longer than `limit`. `work` goes on
    /// after a timeout (a blocking connect cannot be interrupted); its answer is then dropped.
    static func withDeadline<T: Sendable>(_ limit: Duration, onTimeout: @escaping @Sendable () -> T,
                                          _ work: @escaping @Sendable () async -> T) async -> T {
        let answer = FirstAnswer<T>()
        return await withCheckedContinuation { continuation in
            answer.waiter.withLock { $0 = continuation }
            let timer = Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { answer.give(onTimeout()) }
            }
            Task {
                answer.give(await work())
                timer.cancel()
            }
        }
    }
}

/// Whichever of two answers comes first resumes the waiter; the other is dropped.
private final class FirstAnswer<T: Sendable>: Sendable {
    let waiter = Mutex<CheckedContinuation<T, Never>?>(nil)

    func give(_ value: T) { waiter.withLock { $0.take() }?.resume(returning: value) }
}
