import HTTPServer
import Logging
import VirtHost

/// The service's HTTP API: builds the router whose handlers call the Host.
public struct API: Sendable {
    public let host: Host
    /// The service's own HTTP series; give ``ServiceMetrics/record(_:)`` to the server.
    public let metrics: ServiceMetrics
    /// How often a quiet event stream sends a heartbeat comment.
    public let eventHeartbeat: Duration
    /// Answers kept for `Idempotency-Key` retries of `POST /v1/guests`.
    public let idempotency: IdempotencyStore
    /// Where write requests are recorded; nil records none.
    public let audit: AuditLog?
    /// Long-running operations (volume clones, wipes), with their retention.
    public let operations: Operations
    /// One-time tickets that open a console (`POST /v1/domains/{ref}/console-tickets`).
    public let consoleTickets: ConsoleTickets
    /// How long a console's WebSocket may be quiet both ways before it is closed; nil: no limit.
    public let consoleIdleTimeout: Duration?
    /// Which destinations migrations may go to, and how long their check waits.
    public var migration: Migrations.Configuration = .init()
    /// The guest agent's response timeout and freeze limit.
    public var agent: GuestAgent.Configuration = .init()
    let logger: Logger

    public init(host: Host, metrics: ServiceMetrics = ServiceMetrics(), eventHeartbeat: Duration = .seconds(15),
                idempotency: IdempotencyStore = IdempotencyStore(), audit: AuditLog? = nil,
                operations: Operations.Configuration = .init(), consoleTickets: ConsoleTickets = ConsoleTickets(),
                consoleIdleTimeout: Duration? = nil, logger: Logger) {
        self.host = host
        self.metrics = metrics
        self.eventHeartbeat = eventHeartbeat
        self.idempotency = idempotency
        self.audit = audit
        self.operations = Operations(host: host, configuration: operations, describe: OperationRoutes.describe)
        self.consoleTickets = consoleTickets
        self.consoleIdleTimeout = consoleIdleTimeout
        self.logger = logger
    }

    /// Give to ``HTTPServer/Configuration/onCompletion``: the request metrics and the audit log.
    public var onCompletion: @Sendable (CompletedRequest) -> Void {
        { [metrics, audit] request in
            metrics.record(request)
            audit?.record(request)
        }
    }

    /// Every route of the service. `openapi/openapi.yaml` describes each one; a test walks
    /// this table and the document and fails when they differ.
    public func router() -> Router {
        var router = Router()
        HealthRoutes(host: host).register(in: &router)
        HostRoutes(host: host).register(in: &router)
        DomainRoutes(host: host).register(in: &router)
        DomainStatisticsRoutes(host: host).register(in: &router)
        DomainSettingsRoutes(host: host).register(in: &router)
        DomainInputRoutes(host: host).register(in: &router)
        DomainDisplayRoutes(host: host).register(in: &router)
        DomainDiskRoutes(host: host).register(in: &router)
        let guestAgent = GuestAgent(host: host, configuration: agent, logger: logger)
        GuestRoutes(host: host, idempotency: IdempotentRequest(store: idempotency, logger: logger),
                    agent: guestAgent).register(in: &router)
        EventRoutes(host: host, heartbeat: eventHeartbeat, metrics: metrics).register(in: &router)
        FirewallRoutes(host: host).register(in: &router)
        let operationRoutes = OperationRoutes(operations: operations,
                                              idempotency: IdempotentRequest(store: idempotency, logger: logger))
        StorageRoutes(host: host, operations: operationRoutes).register(in: &router)
        StorageContentRoutes(host: host).register(in: &router)
        VolumeResizeRoutes(host: host).register(in: &router)
        operationRoutes.register(in: &router)
        SnapshotRoutes(snapshots: Snapshots(operations: operations),
                       idempotency: IdempotentRequest(store: idempotency, logger: logger)).register(in: &router)
        MigrationRoutes(migrations: Migrations(operations: operations, configuration: migration),
                        idempotency: IdempotentRequest(store: idempotency, logger: logger)).register(in: &router)
        ConsoleRoutes(host: host, tickets: consoleTickets, audit: audit, idleTimeout: consoleIdleTimeout).register(in: &router)
        AgentRoutes(agent: guestAgent).register(in: &router)
        MetricsRoutes(host: host, metrics: metrics).register(in: &router)
        OpenAPIRoutes().register(in: &router)
        return router
    }
}
