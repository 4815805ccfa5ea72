import Foundation
import Logging
import Testing
import TestSupport
@testable import VirtHost

/// Each Host's executor thread ends with the Host.
@Suite(.paced, .serialized) struct HostThreadTests {
    /// Hosts' executor threads (named `virthost-host`) alive in this process, from the kernel.
    /// Only those: the suites' own threads come and go with the tests running beside this one.
    static func threadCount() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").filter { task in
            let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
            return name?.hasPrefix("virthost-host") == true
        }.count
    }

    @Test func threadsStayFlatAfterFiftyHostsComeAndGo() async throws {
        // One Host first, so the process-wide threads (libvirt's event loop, its workers) exist.
        do {
            let host = Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
            try await host.connect()
            _ = try await host.summary()
            #expect(try Self.threadCount() >= 1, "a live Host's thread is counted")
            await host.disconnect()
        }
        try await Task.sleep(for: .milliseconds(100))
        let before = try Self.threadCount()
        for _ in 0..<50 {
            let host = Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
            try await host.connect()
            _ = try await host.summary()
            _ = try await host.guest(for: "test").details()
            await host.disconnect()
        }
        // The threads leave once their Host is gone; give them a moment to be reaped.
        var after = try Self.threadCount()
        for _ in 0..<50 where after > before + 2 {
            try await Task.sleep(for: .milliseconds(20))
            after = try Self.threadCount()
        }
        // Other suites' Hosts come and go meanwhile, one or two in each test running beside this
        // one: a margin of that, far below the 50 a leaking executor leaves behind.
        #expect(after <= before + 2 * PacedTrait.width, "threads before \(before), after \(after)")
    }
}
