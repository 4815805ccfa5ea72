import Libvirt
import Logging
import ServiceLifecycle

/// The Host as a service (swift-service-lifecycle): opens the connection when the service
/// group starts (the service still starts when libvirt is not there yet, and `/readyz` says
/// so), runs the reconnect loop (``Host/keepConnected()``) while the group runs, and at
/// graceful shutdown ends the loop and closes the connection, after the services that use it
/// (the HTTP server) have stopped.
public struct HostService: Service {
    public let host: Host
    let logger: Logger

    public init(host: Host, logger: Logger) {
        self.host = host
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await host.connect()
        } catch {
            // The service still starts: /readyz says 503 until libvirt answers.
            logger.warning("libvirt is not reachable yet", metadata: ["uri": "\(host.uri)", "error": "\(error)"])
        }
        if await !Firewall(host: host).baseFiltersPresent() {
            // Guests asking for the firewall are refused until the base filters are there.
            logger.warning("libvirt's base network filters are missing; firewall-enabled guests will be refused",
                           metadata: ["hint": "\(Firewall.installHint)"])
        }
        // Keeps the connection up until the group shuts down (or is cancelled), then lets go of it.
        await withDiscardingTaskGroup { group in
            group.addTask { await host.keepConnected() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await host.disconnect()
    }
}

/// libvirt's event loop thread as a service: started before the Host connects (so its close
/// callbacks and events are delivered), stopped last.
public struct LibvirtEventLoopService: Service {
    public init() {}

    public func run() async throws {
        try EventLoop.shared.start()
        try? await gracefulShutdown()
        await EventLoop.shared.stop()
    }
}
