import Foundation
import Testing
import Libvirt
import TestSupport
import VirtHost

/// `GET /v1/events` over a real socket.
@Suite(.paced) struct EventStreamEndpointTests {
    func post(_ api: APITestServer, _ path: String) async throws {
        let response = try await httpRequest(port: api.port, "POST", path)
        #expect(response.status == 200, "\(path): \(response.text)")
    }

    func names(_ frames: [SSEFrame]) throws -> [String] {
        try frames.map { frame in
            let data = try frame.json()
            return "\(frame.event ?? "")/\(data["event"] as? String ?? data["state"] as? String ?? "")/\(data["detail"] as? String ?? "")"
        }
    }

    @Test func lifecycleActionsArriveAsTheirEventsInOrder() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), events: .init(initialID: 0))
        let stream = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events") }
        #expect(stream.head.status == 200)
        #expect(stream.head.headers["content-type"] == "text/event-stream")
        #expect(stream.head.headers["cache-control"] == "no-cache")
        for action in ["pause", "resume", "destroy", "start"] { try await post(api, "/v1/domains/test/\(action)") }
        let frames = try await onOwnThread { try stream.events(4) }
        #expect(try names(frames) == ["lifecycle/suspended/paused", "lifecycle/resumed/unpaused",
                                      "lifecycle/stopped/destroyed", "lifecycle/started/booted"])
        #expect(frames.map(\.id) == ["1", "2", "3", "4"])
        let first = try frames[0].json()
        #expect((first["domain"] as? [String: String])?["name"] == "test")
        #expect(first["state"] as? String == "paused" && first["synthetic"] as? Bool == false)
        #expect(first["id"] as? Int == 1 && first["time"] is String)
        await api.stop()
    }

    @Test func theStreamStartsWithARetryHintAndHeartbeatsWhenQuiet() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), events: .init(initialID: 0),
                                    heartbeat: .milliseconds(200))
        let frames = try await onOwnThread { () -> [SSEFrame] in
            let stream = try SSEStreamClient(port: api.port, path: "/v1/events")
            return [try stream.next(), try stream.next()].compactMap { $0 }
        }
        #expect(frames.first?.retry == 3000)
        #expect(frames.last?.comment == "heartbeat")
        await api.stop()
    }

    @Test func filtersByDomainAndType() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), events: .init(initialID: 0))
        _ = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(
            #"{"spec":{"name":"other","memory_mb":64,"virt_type":"test"},"start":false}"#.utf8))
        let byType = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events?type=started,stopped") }
        let byDomain = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events?domain=other") }
        for action in ["pause", "resume", "destroy"] { try await post(api, "/v1/domains/test/\(action)") }
        try await post(api, "/v1/domains/other/start")
        #expect(try names(try await onOwnThread { try byType.events(2) }) == ["lifecycle/stopped/destroyed",
                                                                              "lifecycle/started/booted"])
        let other = try await onOwnThread { try byDomain.events(1) }
        #expect(try (other[0].json()["domain"] as? [String: String])?["name"] == "other")
        let bad = try await httpRequest(port: api.port, "/v1/events?type=exploded")
        #expect(bad.status == 400)
        #expect(try bad.json()["parameter"] as? String == "type")
        await api.stop()
    }

    /// QEMU reports a refused unplug only for guests that answer the request with an error,
    /// which no guest here does; the event is built as the Libvirt binding's callback builds
    /// it, published on the Host's hub, and read back by type with its alias.
    @Test func aDeviceRemovalFailureArrivesByItsTypeWithTheAlias() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), events: .init(initialID: 0))
        let stream = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events?type=device-removal-failed") }
        try await post(api, "/v1/domains/test/pause")
        api.host.events.publish(HostEvent(DomainEvent(domainName: "test", domainUUID: "6695eb01-f6a4-8304-79aa-97f2502e193f",
                                                      kind: .deviceRemovalFailed(alias: "dimm0"))))
        let frames = try await onOwnThread { try stream.events(1) }
        #expect(frames.first?.event == "device-removal-failed")
        let data = try #require(try frames.first?.json())
        #expect(data["device"] as? String == "dimm0" && (data["domain"] as? [String: String])?["name"] == "test", "\(data)")
        await api.stop()
    }

    @Test func lastEventIDReplaysWhatFollowsIt() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), events: .init(initialID: 0))
        for action in ["pause", "resume", "destroy", "start"] { try await post(api, "/v1/domains/test/\(action)") }
        let header = try await onOwnThread {
            try SSEStreamClient(port: api.port, path: "/v1/events", headers: [("Last-Event-ID", "2")]).events(2)
        }
        #expect(header.map(\.id) == ["3", "4"])
        let query = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events?last_event_id=3").events(1) }
        #expect(query.map(\.id) == ["4"])
        // Then it is live.
        let live = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events?last_event_id=4") }
        try await post(api, "/v1/domains/test/pause")
        #expect(try await onOwnThread { try live.events(1) }.map(\.id) == ["5"])
        await api.stop()
    }

    /// virthostd restarts and the client reconnects with the Last-Event-ID it had, as
    /// `EventSource` does: the stream starts with an overflow that says the service restarted
    /// (and gives no count, which nobody knows), and the new run's ids are greater than the
    /// old run's, so the client's id never goes backwards.
    @Test func aReconnectAfterARestartStartsWithAnOverflowAndIDsKeepGrowing() async throws {
        func pause(_ port: UInt16) async throws {
            let response = try await httpRequest(port: port, "POST", "/v1/domains/test/pause")
            #expect(response.status == 200, "\(response.text)")
        }
        let first = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"]) }
        let stream = try await onOwnThread { try SSEStreamClient(port: first.port, path: "/v1/events") }
        try await pause(first.port)
        let before = try await onOwnThread { try stream.events(1) }
        let lastID = try #require(before.first?.id.flatMap { UInt64($0) })
        _ = first.stop()

        let second = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"]) }
        let resumed = try await onOwnThread {
            try SSEStreamClient(port: second.port, path: "/v1/events", headers: [("Last-Event-ID", String(lastID))])
        }
        let overflow = try #require(try await onOwnThread { try resumed.nextEvent() })
        #expect(overflow.event == "overflow")
        #expect(overflow.id == nil)
        let data = try overflow.json()
        #expect(data["reason"] as? String == "restarted")
        #expect(data["dropped"] == nil)
        #expect((data["detail"] as? String)?.contains("restarted") == true)
        try await pause(second.port)
        let after = try await onOwnThread { try resumed.events(1) }
        #expect(after.map(\.event) == ["lifecycle"])
        let newID = try #require(after.first?.id.flatMap { UInt64($0) })
        #expect(newID > lastID)
        _ = second.stop()
    }

    @Test func anIDThatLeftTheBufferGivesAnOverflowFirst() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), events: .init(bufferSize: 2, initialID: 0))
        for action in ["pause", "resume", "destroy", "start"] { try await post(api, "/v1/domains/test/\(action)") }
        let frames = try await onOwnThread {
            try SSEStreamClient(port: api.port, path: "/v1/events", headers: [("Last-Event-ID", "1")]).events(3)
        }
        #expect(frames.map(\.event) == ["overflow", "lifecycle", "lifecycle"])
        #expect(frames[0].id == nil)
        #expect(try frames[0].json()["dropped"] as? Int == 1)
        #expect(try frames[0].json()["reason"] as? String == "replay_gap")
        #expect(frames.dropFirst().map(\.id) == ["3", "4"])
        await api.stop()
    }

    /// A client that stops reading overflows its own queue and delays nobody: the others get
    /// every event, in order, while it sits.
    @Test func aClientThatStopsReadingOverflowsAloneAndDelaysNoOne() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(),
                                    events: .init(bufferSize: 64, subscriberQueueSize: 64, initialID: 0), streamHighWater: 4096)
        let slow = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events", timeout: 30) }
        let fast = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events", timeout: 30) }
        // 16 MB in all: more than loopback's socket buffers (a few MB each way) can hide.
        let padding = String(repeating: "x", count: 8000)
        var received = 0
        for batch in 0..<40 {
            for index in 0..<50 {
                api.host.events.publish(HostEvent(kind: .deviceRemoved, domainName: "test", domainUUID: "u",
                                                  device: "\(batch)-\(index)-\(padding)"))
            }
            let frames = try await onOwnThread { try fast.events(50) }
            #expect(frames.allSatisfy { $0.event == "device-removed" }, "the reading client overflowed")
            received += frames.count
        }
        #expect(received == 2000)
        // Now the slow one reads: somewhere in its stream is an overflow.
        let slowFrames = try await onOwnThread { () -> [SSEFrame] in
            var frames: [SSEFrame] = []
            while let frame = try slow.nextEvent() {
                frames.append(frame)
                if frame.id == "2000" { break }
            }
            return frames
        }
        #expect(slowFrames.contains { $0.event == "overflow" })
        #expect(slowFrames.count < 2000)
        await api.stop()
    }
}
