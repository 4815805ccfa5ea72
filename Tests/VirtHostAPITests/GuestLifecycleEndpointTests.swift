import Foundation
import Testing
import TestSupport

/// Create → list → every power action → delete, on a private test driver each, through the API.
@Suite(.paced) struct GuestLifecycleEndpointTests {
    func post(_ api: APITestServer, _ path: String, _ body: String = "") async throws -> HTTPTestResponse {
        try await httpRequest(port: api.port, "POST", path, body: Array(body.utf8))
    }

    static func creation(_ name: String, start: Bool = true, paused: Bool = false) -> String {
        #"{"spec":{"name":"\#(name)","memory_mb":128,"vcpus":2,"virt_type":"test"},"start":\#(start),"paused":\#(paused)}"#
    }

    func state(_ response: HTTPTestResponse) throws -> String? { try response.json()["state"] as? String }

    @Test func createListPowerAndDelete() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let created = try await post(api, "/v1/guests", Self.creation("lifecycle-1"))
        #expect(created.status == 201, "\(created.text)")
        let uuid = try #require(try created.json()["uuid"] as? String)
        #expect(created.headers["location"] == "/v1/domains/\(uuid)")
        #expect(try state(created) == "running")

        let listed = try await httpRequest(port: api.port, "/v1/domains?state=active")
        #expect(listed.text.contains(#""name":"lifecycle-1""#))

        let steps: [(String, String)] = [
            ("pause", "paused"), ("resume", "running"), ("reboot", "running"), ("reboot?mode=hard", "running"),
            ("shutdown", "shutoff"), ("start?paused=true", "paused"), ("resume", "running"), ("destroy", "shutoff"),
            ("start", "running"), ("shutdown?timeout_s=5&force=true", "shutoff"),
        ]
        for (action, expected) in steps {
            let response = try await post(api, "/v1/domains/\(uuid)/\(action)")
            #expect(response.status == 200, "\(action): \(response.text)")
            #expect(try state(response) == expected, "after \(action)")
        }

        let deleted = try await httpRequest(port: api.port, "DELETE", "/v1/domains/lifecycle-1")
        #expect(deleted.status == 204)
        #expect(try await httpRequest(port: api.port, "/v1/domains/lifecycle-1").status == 404)
        await api.stop()
    }

    @Test func createdPausedOrNotStarted() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        #expect(try state(try await post(api, "/v1/guests", Self.creation("lifecycle-paused", paused: true))) == "paused")
        #expect(try state(try await post(api, "/v1/guests", Self.creation("lifecycle-off", start: false))) == "shutoff")
        await api.stop()
    }

    @Test func actionsThatMakeNoSenseAre409WithTheState() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        _ = try await post(api, "/v1/guests", Self.creation("lifecycle-off", start: false))
        for action in ["pause", "resume", "shutdown", "reboot", "inject-nmi"] {
            let response = try await post(api, "/v1/domains/lifecycle-off/\(action)")
            #expect(response.status == 409, "\(action)")
            let problem = try response.json()
            #expect(problem["type"] as? String == "https://virthost.dev/problems/invalid-state")
            #expect(problem["state"] as? String == "shutoff")
        }
        _ = try await post(api, "/v1/domains/lifecycle-off/start")
        let again = try await post(api, "/v1/domains/lifecycle-off/start")
        #expect(again.status == 409)
        #expect(try again.json()["state"] as? String == "running")
        let resume = try await post(api, "/v1/domains/lifecycle-off/resume")
        #expect(resume.status == 409)
        await api.stop()
    }

    @Test func anExistingNameOrUUIDIs409AndUntouched() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let first = try await post(api, "/v1/guests", Self.creation("lifecycle-dup", start: false))
        let uuid = try #require(try first.json()["uuid"] as? String)
        let sameName = try await post(api, "/v1/guests", Self.creation("lifecycle-dup"))
        #expect(sameName.status == 409)
        #expect(try sameName.json()["type"] as? String == "https://virthost.dev/problems/domain-exists")
        let sameUUID = try await post(api, "/v1/guests",
            #"{"spec":{"name":"lifecycle-other","uuid":"\#(uuid)","memory_mb":64,"virt_type":"test"}}"#)
        #expect(sameUUID.status == 409)
        // The first is as it was: not started, not redefined.
        let existing = try await httpRequest(port: api.port, "/v1/domains/\(uuid)").json()
        #expect(existing["state"] as? String == "shutoff" && existing["max_memory_mb"] as? Int == 128)
        // The existing `test` domain too.
        let test = try await post(api, "/v1/guests", #"{"spec":{"name":"test","memory_mb":64,"virt_type":"test"}}"#)
        #expect(test.status == 409)
        await api.stop()
    }

    @Test func racingCreatesOfOneNameMakeOneDomain() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { try await post(api, "/v1/guests", Self.creation("lifecycle-race")).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.sorted() == [201] + Array(repeating: 409, count: 7))
        let list = try await httpRequest(port: api.port, "/v1/domains").json()
        let names = (list["domains"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(names.filter { $0 == "lifecycle-race" }.count == 1)
        await api.stop()
    }

    @Test func invalidSpecsAre422PointingIntoTheBody() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let response = try await post(api, "/v1/guests", #"{"spec":{"name":"x y","memory_mb":64,"virt_type":"test"},"start":"yes"}"#)
        #expect(response.status == 422)
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        #expect(Set(errors.compactMap { $0["pointer"] }) == ["/spec/name", "/start"])
        #expect(try await post(api, "/v1/guests", #"{"start":true}"#).status == 422)
        await api.stop()
    }

    @Test func deleteRefusesARunningGuestUnlessForced() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        _ = try await post(api, "/v1/guests", Self.creation("lifecycle-running"))
        let refused = try await httpRequest(port: api.port, "DELETE", "/v1/domains/lifecycle-running")
        #expect(refused.status == 409)
        #expect(try await httpRequest(port: api.port, "/v1/domains/lifecycle-running").status == 200)
        let forced = try await httpRequest(port: api.port, "DELETE", "/v1/domains/lifecycle-running?force=true")
        #expect(forced.status == 204)
        #expect(try await httpRequest(port: api.port, "/v1/domains/lifecycle-running").status == 404)
        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/nope").status == 404)
        await api.stop()
    }

    @Test func vcpusOfARunningDomain() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let response = try await httpRequest(port: api.port, "/v1/domains/test/vcpus")
        #expect(response.status == 200)
        let vcpus = try #require(try response.json()["vcpus"] as? [[String: Any]])
        #expect(vcpus.map { $0["number"] as? Int } == [0, 1])
        #expect(vcpus.allSatisfy { $0["state"] as? String == "running" && $0["host_cpu"] is Int && $0["cpu_time_ns"] is Int })
        _ = try await post(api, "/v1/domains/test/destroy")
        #expect(try await httpRequest(port: api.port, "/v1/domains/test/vcpus").status == 409)
        await api.stop()
    }

    @Test func devicesAre501OnTheTestDriverAndValidatedFirst() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), instancesPath: "/var/lib/libvirt/images")
        let unsupported = try await post(api, "/v1/domains/test/devices", #"{"disk":{"source":"/var/lib/libvirt/images/x.qcow2"}}"#)
        #expect(unsupported.status == 501)
        #expect(try unsupported.json()["type"] as? String == "https://virthost.dev/problems/unsupported-by-driver")
        let invalid = try await post(api, "/v1/domains/test/devices", #"{"disk":{"source":"/etc/passwd","bus":"floppy"}}"#)
        #expect(invalid.status == 422)
        let errors = try #require(try invalid.json()["errors"] as? [[String: String]])
        #expect(Set(errors.compactMap { $0["pointer"] }) == ["/disk/source", "/disk/bus"])
        let two = try await post(api, "/v1/domains/test/devices", #"{"disk":{},"interface":{}}"#)
        #expect(two.status == 422)
        let missing = try await httpRequest(port: api.port, "DELETE", "/v1/domains/test/devices/vdz")
        #expect(missing.status == 404)
        #expect(try missing.json()["type"] as? String == "https://virthost.dev/problems/device-not-found")
        await api.stop()
    }
}

/// What interfaces attach to is checked before anything is defined (test driver).
@Suite(.paced) struct VIFCheckEndpointTests {
    @Test func aMissingNetworkOrBridgeIsRefusedAndNothingIsDefined() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"vif","memory_mb":64,"virt_type":"test",
                     "interfaces":[{"type":"network","source":"nonet"},{"type":"bridge","source":"nobridge"},{"type":"ethernet"}]}}
            """#.utf8))
        #expect(response.status == 422, "\(response.text)")
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        #expect(Set(errors.compactMap { $0["pointer"] }) == ["/spec/interfaces/0/source", "/spec/interfaces/1/source"])
        #expect(try await httpRequest(port: api.port, "/v1/domains/vif").status == 404)
        await api.stop()
    }
}
