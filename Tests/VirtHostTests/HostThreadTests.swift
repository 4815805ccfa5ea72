import Foundation
import Logging
import Testing
@testable import VirtHost

/// Each Host's executor thread ends with the Host.
@Suite(.serialized) struct HostThreadTests {
    /// Threads of this process, from the kernel.
    static func threadCount() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
    }

    @Test func threadsStayFlatAfterFiftyHostsComeAndGo() async throws {
        // One Host first, so the process-wide threads (libvirt's event loop, its workers) exist.
        do {
            let host = Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
            try await host.connect()
            _ = try await host.summary()
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
        // Other suites run in parallel and start threads of their own: a small margin, far
        // below the 50 a leaking executor leaves behind.
        #expect(after <= before + 5, "threads before \(before), after \(after)")
    }
}
