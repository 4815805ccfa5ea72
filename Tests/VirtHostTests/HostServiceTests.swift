import Foundation
import Logging
import ServiceLifecycle
import Testing
import TestSupport
@testable import VirtHost

/// The Host under swift-service-lifecycle.
@Suite(.paced) struct HostServiceTests {
    let logs = LogCapture()

    /// Run as a service, the Host connects at start, reconnects after a loss with no request
    /// coming, and at graceful shutdown ends its loop and closes the connection.
    @Test func connectsReconnectsAndDisconnectsAsAService() async throws {
        let host = Host(configuration: .init(uri: "test:///default", initialRetryDelay: .milliseconds(10)),
                        logger: logs.logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: HostService(host: host, logger: logs.logger))],
            logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        try await waitUntil {
            let connected = await host.isConnected, looping = await host.reconnectsAsService
            return connected && looping
        }

        await host.connectionLost(reason: "injected")
        #expect(await !host.isConnected)
        #expect(await !host.reconnectsInOwnTask, "the service's loop reconnects, not a task of the Host's")
        // Nobody calls the Host: its service loop reconnects.
        try await waitUntil { await host.isConnected }
        #expect(logs.messages(at: .info).filter { $0.contains("libvirt connection opened") }.count == 2)

        await group.triggerGracefulShutdown()
        try await running.value
        #expect(await !host.isConnected)
        #expect(logs.messages(at: .info).contains { $0.contains("libvirt connection closed") })
    }

    func waitUntil(_ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(10))
        while await !condition() {
            try #require(ContinuousClock.now < deadline, "timed out")
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
