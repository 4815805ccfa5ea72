import Foundation
import Testing
import TestSupport

/// Events from the real libvirtd: a guest's start and destroy, and what happens when libvirtd
/// itself goes away and comes back.
extension RealLibvirtdTests {
    static let startScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/start-libvirtd.sh").path

    func createGuest(_ api: APITestServer, _ name: String) async throws {
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"}},"start":true}
            """#.utf8), timeout: 60)
        try #require(created.status == 201, "\(created.text)")
    }

    @Test func startingAndDestroyingAGuestShowOnTheStream() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        _ = try await httpRequest(port: api.port, "/readyz")
        let stream = try await onOwnThread {
            try SSEStreamClient(port: api.port, path: "/v1/events?domain=\(name)", timeout: 60)
        }
        try await createGuest(api, name)
        #expect(try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/destroy", timeout: 60).status == 200)
        let frames = try await framesUntilStopped(stream)
        let events = try frames.map { try $0.json() }
        await api.stop()
        let names = events.map { "\($0["event"] as? String ?? "")/\($0["detail"] as? String ?? "")" }
        // QEMU guests also report resumed/unpaused as they start and shutdown/host as they are
        // destroyed; these three come in this order.
        let essential = names.filter { ["defined/added", "started/booted", "stopped/destroyed"].contains($0) }
        #expect(essential == ["defined/added", "started/booted", "stopped/destroyed"], "\(names)")
        #expect(events.allSatisfy { ($0["domain"] as? [String: String])?["name"] == name })
    }

    /// libvirtd is killed; while it is down the guest's QEMU dies too; libvirtd comes back.
    /// The stream says `lost`, then `restored`, then the stop it could not see, marked synthetic.
    @Test func aLibvirtdRestartIsReportedAndResynced() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        try await createGuest(api, name)
        let stream = try await onOwnThread {
            try SSEStreamClient(port: api.port, path: "/v1/events?type=connection,stopped,started", timeout: 90)
        }
        let qemuPID = try #require(Int32(try String(contentsOfFile: "/run/libvirt/qemu/\(name).pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))

        try await killLibvirtd()
        kill(qemuPID, SIGKILL)
        try await waitUntil(timeout: .seconds(20)) { kill(qemuPID, 0) != 0 }
        _ = try run(Self.startScript, [])

        let frames = try await framesUntilStopped(stream)
        let events = try frames.map { frame in
            var data = try frame.json()
            data["type"] = frame.event
            return data
        }
        let ready = try await httpRequest(port: api.port, "/readyz")
        await api.stop()
        let summary = events.map { "\($0["type"] as? String ?? "")/\(($0["state"] ?? $0["event"]) as? String ?? "")" }
        #expect(summary.first == "connection/lost")
        #expect(summary.contains("connection/restored"))
        let stopped = try #require(events.last)
        #expect(stopped["event"] as? String == "stopped")
        #expect(stopped["synthetic"] as? Bool == true)
        #expect((stopped["domain"] as? [String: String])?["name"] == name)
        #expect(ready.status == 200)
    }

    /// Frames up to and including the first `stopped` lifecycle event.
    func framesUntilStopped(_ stream: SSEStreamClient) async throws -> [SSEFrame] {
        try await onOwnThread {
            var frames: [SSEFrame] = []
            while let frame = try stream.nextEvent() {
                frames.append(frame)
                if try frame.json()["event"] as? String == "stopped" { break }
            }
            return frames
        }
    }

    /// SIGKILLs this host's libvirtd and waits until it is gone. By its pid file: the migration
    /// tests' second libvirtd (scripts/second-host.sh) runs beside it and must live on.
    func killLibvirtd() async throws {
        let text = try String(contentsOfFile: "/run/libvirtd.pid", encoding: .utf8)
        let pid = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), "/run/libvirtd.pid: \(text)")
        kill(pid, SIGKILL)
        try await waitUntil(timeout: .seconds(20), "libvirtd to die") { kill(pid, 0) != 0 }
    }

    func waitUntil(timeout: Duration, _ what: String = "a condition",
                   _ condition: @escaping @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw RealLibvirtd.Timeout(waitingFor: what) }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

extension RealLibvirtd {
    struct Timeout: Error {
        var waitingFor = "a condition"
    }
}
