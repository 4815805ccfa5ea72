import HTTPServer
import Logging
import VirtHost

/// The service's HTTP API: builds the router whose handlers call the Host.
public struct API: Sendable {
    public let host: Host
    let logger: Logger

    public init(host: Host, logger: Logger) {
        self.host = host
        self.logger = logger
    }

    /// Every route of the service. `openapi/openapi.yaml` describes each one; a test walks
    /// this table and the document and fails when they differ.
    public func router() -> Router {
        var router = Router()
        HealthRoutes(host: host).register(in: &router)
        HostRoutes(host: host).register(in: &router)
        OpenAPIRoutes().register(in: &router)
        return router
    }
}
