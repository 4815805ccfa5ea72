import HTTPServer
import Logging
import VirtHost
import VirtHostAPI

/// The API's router on a real HTTP server on a free loopback port.
struct APITestServer {
    let host: VirtHost.Host
    let server: HTTPServer
    var port: UInt16 { server.port }

    init(uri: String = "test:///default", initialRetryDelay: Duration = .milliseconds(250)) throws {
        host = VirtHost.Host(configuration: .init(uri: uri, initialRetryDelay: initialRetryDelay),
                             logger: Logger(label: "test.host"))
        let api = API(host: host, logger: Logger(label: "test.api"))
        server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: api.router(),
                            logger: Logger(label: "test.http"))
        try server.start()
    }

    func stop() async {
        await server.shutdown()
        await host.disconnect()
    }
}
