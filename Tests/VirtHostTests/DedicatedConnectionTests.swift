import Foundation
import Libvirt
import Locking
import Testing
import TestSupport
@testable import VirtHost

/// A long job on a dedicated connection never holds the Host's thread or connection.
@Suite(.paced) struct DedicatedConnectionTests {
    let logs = LogCapture()

    @Test func theHostKeepsItsLatencyWhileAJobBlocksOnItsOwnConnection() async throws {
        let host = Host(configuration: .init(uri: "test:///default"), logger: logs.logger)
        try await host.connect()
        let phase = Mutex((started: false, released: false, finished: false))
        let job = Task {
            try await host.withDedicatedConnection { connection -> String in
                let hostname = try connection.hostname()
                phase.withLock { $0.started = true }
                // Stands for a call that blocks for long (a stream, a migration): it blocks until
                // the test has had its pings answered, or for 30 s, so a ping that queued behind
                // it would be answered only after it finished, and the test would say so.
                let deadline = ContinuousClock.now + .seconds(30)
                while !phase.withLock({ $0.released }) && ContinuousClock.now < deadline { usleep(10_000) }
                phase.withLock { $0.finished = true }
                return "\(hostname) on \(DetachedThread.currentName)"
            }
        }
        while !phase.withLock({ $0.started }) { try await Task.sleep(for: .milliseconds(5)) }
        var slowest = Duration.zero
        let clock = ContinuousClock()
        for _ in 0..<10 {
            let took = try await clock.measure { try await host.ping() }
            slowest = max(slowest, took)
            try await Task.sleep(for: .milliseconds(20))
        }
        // Every ping was answered while the job still blocked: none waited for it. Ordering,
        // not a time bound, so a loaded machine cannot make it fail or pass by accident.
        #expect(!phase.withLock { $0.finished }, "the pings waited for the job (slowest took \(slowest))")
        phase.withLock { $0.released = true }
        let answer = try await job.value
        #expect(answer.hasSuffix("on virthost-job"))
    }

    @Test func aLibvirtErrorInTheJobIsTheHostsError() async throws {
        let host = Host(configuration: .init(uri: "test:///default"), logger: logs.logger)
        await #expect {
            try await host.withDedicatedConnection { connection -> Bool in
                _ = try connection.lookupDomain(name: "no-such-domain-\(UUID())")
                return true
            }
        } throws: { error in
            guard case HostError.libvirt(let libvirt) = error else { return false }
            return libvirt.isNoDomain
        }
    }

    @Test func anUnreachableURIIsHypervisorUnavailable() async throws {
        let host = Host(configuration: .init(uri: "qemu+unix:///system?socket=/nonexistent/sock"), logger: logs.logger)
        await #expect {
            try await host.withDedicatedConnection { try $0.hostname() }
        } throws: { error in
            guard case HostError.hypervisorUnavailable = error else { return false }
            return true
        }
    }
}
