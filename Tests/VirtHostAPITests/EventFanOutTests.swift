import Foundation
import Testing
import TestSupport

/// Many event-stream clients on one `virthostd` process.
@Suite(.paced) struct EventFanOutTests {
    /// The process's threads (`/proc/<pid>/status`).
    static func threads(of pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") } ?? ""
        return Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1
    }

    /// Threads virthostd may have, however many clients stream: main, Swift's cooperative
    /// pool (one per core), libmicrohttpd's one epoll thread, the Host's executor, libvirt's
    /// event loop, and a few Dispatch and runtime helpers. Streams are tasks, not threads.
    static let threadBound = 12 + ProcessInfo.processInfo.activeProcessorCount

    /// 500 clients all receive the same 100 events, in order, while the process's thread
    /// count stays within ``threadBound``.
    @Test func fiveHundredClientsGetTheSameHundredEventsInOrder() async throws {
        let service = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"]) }
        let port = service.port
        let before = try Self.threads(of: service.pid)
        let clients = try await onOwnThread { try SSEFanOutClient(port: port, path: "/v1/events", count: 500) }
        // Let every stream open before the events start.
        try await Task.sleep(for: .milliseconds(500))
        let during = try Self.threads(of: service.pid)
        for _ in 0..<50 {
            #expect(try await httpRequest(port: port, "POST", "/v1/domains/test/pause").status == 200)
            #expect(try await httpRequest(port: port, "POST", "/v1/domains/test/resume").status == 200)
        }
        let received = try await onOwnThread { clients.read(untilEach: 100, timeout: 60) }
        let after = try Self.threads(of: service.pid)
        #expect(received.count == 500)
        // Ids continue from the service's clock-based start; they must be 100 in a row.
        let first = try #require(received.first?.first?.id.flatMap(UInt64.init))
        let expected = (0..<100).map { String(first + UInt64($0)) }
        for (index, events) in received.enumerated() {
            #expect(events.compactMap(\.id) == expected, "client \(index) got \(events.count) events")
            if events.compactMap(\.id) != expected { break }
        }
        #expect(Set(received.map { $0.map(\.data) }).count == 1, "the clients got different events")
        #expect(received.first?.first?.event == "lifecycle")
        #expect(max(before, during, after) <= Self.threadBound, "threads: \(before) before, \(during) with 500 streams, \(after) after")
        #expect(try await onOwnThread { service.stop() } == 0)
    }
}
