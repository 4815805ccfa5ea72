import Foundation
import HTTPServer
import Logging
import TestSupport
import VirtHost
import VirtHostAPI

/// The API's router on a real HTTP server on a free loopback port.
struct APITestServer {
    let host: VirtHost.Host
    let server: HTTPServer
    let api: API
    var port: UInt16 { server.port }

    init(uri: String = "test:///default", initialRetryDelay: Duration = .milliseconds(250),
         instancesPath: String = NSTemporaryDirectory(), allowedDiskRoots: [String] = [],
         events: EventHub.Configuration = .init(),
         heartbeat: Duration = .seconds(15), streamHighWater: Int = 256 * 1024,
         idempotency: IdempotencyStore.Configuration = .init(), audit: AuditLog? = nil,
         instancesPool: String = "default",
         operations: Operations.Configuration = .init(),
         consoleTickets: ConsoleTickets = ConsoleTickets(), consoleLogDirectory: String? = nil,
         agent: GuestAgent.Configuration = .init(), log: LogCapture? = nil,
         isoImage: ISOImage.Configuration = .init(), migration: Migrations.Configuration = .init(),
         configure: (inout HTTPServer.Configuration) -> Void = { _ in }) throws {
        var hostConfiguration = VirtHost.Host.Configuration(uri: uri, instancesPath: instancesPath,
                                                            allowedDiskRoots: allowedDiskRoots, events: events,
                                                            initialRetryDelay: initialRetryDelay)
        hostConfiguration.instancesPool = instancesPool
        hostConfiguration.consoleLogDirectory = consoleLogDirectory
        hostConfiguration.isoImage = isoImage
        // Every line of the service, debug ones too, into `log` when the test reads them.
        func logger(_ label: String) -> Logger {
            guard let log else { return Logger(label: label) }
            var logger = log.logger
            logger.logLevel = .trace
            return logger
        }
        host = VirtHost.Host(configuration: hostConfiguration, logger: logger("test.host"))
        var api = API(host: host, eventHeartbeat: heartbeat, idempotency: IdempotencyStore(configuration: idempotency),
                      audit: audit, operations: operations, consoleTickets: consoleTickets, logger: logger("test.api"))
        api.agent = agent
        api.migration = migration
        self.api = api
        var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0, streamHighWater: streamHighWater)
        configuration.onCompletion = api.onCompletion
        configure(&configuration)
        server = HTTPServer(configuration: configuration, router: api.router(), logger: logger("test.http"))
        try server.start()
    }

    func idempotencyCount() async -> Int { await api.idempotency.count }

    func stop() async {
        await server.shutdown()
        await host.disconnect()
    }
}
