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
    let logger: Logger

    public init(host: Host, metrics: ServiceMetrics = ServiceMetrics(), eventHeartbeat: Duration = .seconds(15),
                idempotency: IdempotencyStore = IdempotencyStore(), audit: AuditLog? = nil, logger: Logger) {
        self.host = host
        self.metrics = metrics
        self.eventHeartbeat = eventHeartbeat
        self.idempotency = idempotency
        self.audit = audit
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
        GuestRoutes(host: host, idempotency: IdempotentRequest(store: idempotency, logger: logger)).register(in: &router)
        EventRoutes(host: host, heartbeat: eventHeartbeat, metrics: metrics).register(in: &router)
        FirewallRoutes(host: host).register(in: &router)
        StorageRoutes(host: host).register(in: &router)
        ConsoleRoutes(host: host).register(in: &router)
        MetricsRoutes(host: host, metrics: metrics).register(in: &router)
        OpenAPIRoutes().register(in: &router)
        return router
    }
}
