import Foundation
import Libvirt
import Logging
import Locking
import Testing
import TestSupport
@testable import VirtHost

/// Foundation has a `Host` too.
typealias Host = VirtHost.Host

@Suite(.paced) struct HostTests {
    let logs = LogCapture()

    func makeHost(uri: String = "test:///default", initialRetryDelay: Duration = .milliseconds(250),
                  maximumRetryDelay: Duration = .seconds(30)) -> Host {
        Host(configuration: .init(uri: uri, initialRetryDelay: initialRetryDelay, maximumRetryDelay: maximumRetryDelay),
             logger: logs.logger)
    }

    @Test func summaryDescribesTheTestDriver() async throws {
        let host = makeHost()
        try await host.connect()
        let summary = try await host.summary()
        #expect(summary.hypervisorType == "TEST")
        #expect(summary.hypervisorVersion == LibvirtVersion(major: 0, minor: 0, micro: 2))
        #expect(summary.libvirtVersion == (try Libvirt.libraryVersion()))
        #expect(summary.cpuArch == "i686")
        #expect(summary.cpuModel == nil)
        #expect(summary.uri == "test:///default")
        #expect(summary.hostname == ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init))
    }

    /// The test driver has no keepalive: said once at debug level, however often it reconnects,
    /// and never an error.
    @Test func aDriverWithoutKeepaliveIsLoggedOnceNotFailed() async throws {
        let host = makeHost(uri: "test:///default", initialRetryDelay: .zero)
        try await host.connect()
        #expect(await !host.keepAliveEnabled)
        await host.connectionLost(reason: "injected")
        try await host.connect()
        await host.connectionLost(reason: "injected again")
        try await host.connect()
        #expect(logs.messages(at: .debug).filter { $0.contains("no keepalive") }.count == 1)
        #expect(logs.messages(at: .warning).allSatisfy { !$0.contains("keepalive") })
        #expect(logs.messages(at: .error).isEmpty)
        #expect(try await host.summary().hypervisorType == "TEST")
    }

    @Test func versionChecksReadTheConnection() async throws {
        let host = makeHost()
        #expect(await host.hasMinVersion(libvirt: LibvirtVersion(major: 1, minor: 0, micro: 0)))
        #expect(await !host.hasMinVersion(libvirt: LibvirtVersion(major: 999, minor: 0, micro: 0)))
        #expect(await host.hasMinVersion(hypervisor: LibvirtVersion(major: 0, minor: 0, micro: 2), type: "TEST"))
        #expect(await !host.hasMinVersion(type: "QEMU"))
        #expect(await host.hasVersion(hypervisor: LibvirtVersion(major: 0, minor: 0, micro: 2)))
        #expect(await !host.hasVersion(hypervisor: LibvirtVersion(major: 0, minor: 0, micro: 3)))
    }

    @Test func versionChecksAreFalseWithoutAConnection() async {
        let host = makeHost(uri: "nosuchdriver:///x")
        #expect(await !host.hasMinVersion())
    }

    @Test func listsDomains() async throws {
        let host = makeHost()
        #expect(try await host.domainNames() == ["test"])
        #expect(try await host.domainNames(.inactive) == [])
    }

    @Test func hostnameIsCachedAndAChangeIsWarnedAbout() async throws {
        let host = makeHost()
        let first = try await host.hostname()
        await host.setCachedHostname("renamed-elsewhere")
        #expect(try await host.hostname() == "renamed-elsewhere")
        #expect(logs.messages(at: .warning).contains { $0.contains("hostname has changed") })
        #expect(!first.isEmpty)
    }

    /// Every libvirt call runs on the Host's own thread, never on Swift's cooperative pool.
    @Test func libvirtCallsRunOnTheHostThread() async throws {
        let host = makeHost()
        let threadName = try await host.withConnection { _ in DetachedThread.currentName }
        #expect(threadName == "virthost-host")
        #expect(!Thread.isMainThread)
    }

    @Test func aLostConnectionIsReopenedByTheNextCall() async throws {
        let host = makeHost()
        try await host.connect()
        #expect(await host.isConnected)
        await host.connectionLost(reason: "injected: closed under the host")
        #expect(await !host.isConnected)
        #expect(logs.messages(at: .warning).contains { $0.contains("libvirt connection lost") })
        // The next call reconnects at once.
        #expect(try await host.summary().hypervisorType == "TEST")
        #expect(await host.isConnected)
    }

    @Test func failedReconnectsBackOffAndFailFast() async throws {
        // Time moves only when the test says: the back-off's windows hold however slow the
        // machine (a sanitizer, a loaded CI runner) makes each call.
        let clock = ManualClock()
        var configuration = Host.Configuration(uri: "nosuchdriver:///x", initialRetryDelay: .seconds(3),
                                               maximumRetryDelay: .seconds(6))
        configuration.now = clock.now
        let host = Host(configuration: configuration, logger: logs.logger)
        func retryAfter() async -> Duration? {
            do {
                try await host.connect()
                return nil
            } catch {
                guard case .hypervisorUnavailable(let reason, let retryAfter) = error else { return nil }
                // libvirt's own words; they depend on whether libvirtd runs (it gets asked too).
                #expect(!reason.isEmpty)
                return retryAfter
            }
        }
        func attempts() -> Int { logs.messages(at: .warning).filter { $0.contains("cannot connect") }.count }
        #expect(await retryAfter() == .seconds(3))
        #expect(attempts() == 1)
        // Within the back-off, calls fail fast without trying libvirt, saying how long is left.
        clock.advance(by: .seconds(1))
        #expect(await retryAfter() == .seconds(2))
        clock.advance(by: .milliseconds(1999))
        #expect(await retryAfter() == .milliseconds(1))
        #expect(attempts() == 1)
        // After it, the next call tries again and the delay doubles, up to the cap.
        clock.advance(by: .milliseconds(1))
        #expect(await retryAfter() == .seconds(6))
        #expect(attempts() == 2)
        clock.advance(by: .seconds(6))
        #expect(await retryAfter() == .seconds(6))
        #expect(attempts() == 3)
    }

    @Test func aClosedHostReconnectsOnDemand() async throws {
        let host = makeHost()
        try await host.connect()
        await host.disconnect()
        #expect(await !host.isConnected)
        try await host.ping()
        #expect(await host.isConnected)
    }
}

extension Host {
    func setCachedHostname(_ name: String) { _setCachedHostnameForTesting(name) }
}

/// A monotonic clock that moves only when the test advances it.
final class ManualClock: Sendable {
    private let current = Mutex(ContinuousClock.now)

    @Sendable func now() -> ContinuousClock.Instant { current.withLock { $0 } }
    func advance(by duration: Duration) { current.withLock { $0 += duration } }
}
