import Foundation
import Testing
import TestSupport

/// Graceful shutdown under the service group, with work in flight.
extension RealLibvirtdTests {
    /// SIGTERM while a request is in flight (a guest with no OS ignores the shutdown, so the
    /// request waits out its timeout) and an event stream is open: the stream ends, the request
    /// still gets its answer, and only then does the Host let go of libvirt and the process exit 0.
    @Test func sigtermLetsAnInFlightRequestFinishAndEndsStreams() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let service = try await onOwnThread { try ServiceProcess(arguments: ["--uri", uri, "--listen", "127.0.0.1:0"]) }
        let port = service.port
        let created = try await httpRequest(port: port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"}}}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        let stream = try await onOwnThread { try SSEStreamClient(port: port, path: "/v1/events") }
        #expect(stream.head.status == 200)

        let slow = Task {
            try await httpRequest(port: port, "POST", "/v1/domains/\(name)/shutdown?timeout_s=3", timeout: 30)
        }
        try await Task.sleep(for: .milliseconds(800))
        let status = try await onOwnThread { service.stop(timeout: .seconds(20)) }
        let answer = try await slow.value
        #expect(answer.status == 200, "\(answer.status) \(answer.text)")
        #expect(status == 0)
        // The stream ends (after whatever events it still had).
        let ended = try await onOwnThread { () -> Bool in
            for _ in 0..<100 where try stream.next() == nil { return true }
            return false
        }
        #expect(ended)
        let log = service.log
        let serverStopped = log.firstIndex { $0.contains("HTTP server stopped") }
        let libvirtClosed = log.firstIndex { $0.contains("libvirt connection closed") }
        #expect(serverStopped != nil && libvirtClosed != nil && serverStopped! < libvirtClosed!, "\(log)")
    }
}
