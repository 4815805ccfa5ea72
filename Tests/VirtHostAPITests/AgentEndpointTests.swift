import Foundation
import Testing
import TestSupport

/// The guest-agent routes on libvirt's test driver, whose domain `test` has no agent channel:
/// the status, the refusals that come at once, and request checks that never echo a password.
@Suite(.paced) struct AgentEndpointTests {
    func post(_ api: APITestServer, _ path: String, _ body: String) async throws -> HTTPTestResponse {
        try await httpRequest(port: api.port, "POST", path, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
    }

    @Test func aGuestWithoutAChannelSaysSoAndIsRefusedAtOnce() async throws {
        // A response timeout far above the bound below: a refusal that waited for it would fail.
        let api = try APITestServer(agent: .init(responseTimeout: .seconds(60)))
        let status = try await httpRequest(port: api.port, "/v1/domains/test/agent")
        #expect(status.status == 200, "\(status.text)")
        let json = try status.json()
        #expect(json["channel"] as? Bool == false && json["connected"] as? Bool == false && json["frozen"] as? Bool == false)
        #expect(json["timeout_s"] as? Int == 60)
        #expect(json["version"] is NSNull && json["commands"] is NSNull, "no agent, no guest-info: \(status.text)")
        for (method, path) in [("GET", "guest-info"), ("GET", "fs-info"), ("GET", "addresses"), ("POST", "time-sync")] {
            let started = Date()
            let refused = method == "GET" ? try await httpRequest(port: api.port, "/v1/domains/test/\(path)")
                : try await post(api, "/v1/domains/test/\(path)", "")
            #expect(refused.status == 409, "\(path): \(refused.text)")
            #expect(try refused.json()["type"] as? String == "https://virthost.dev/problems/agent-unavailable")
            #expect(try refused.json()["domain"] as? String == "test")
            // At once: well under the 60 s timeout, with room for a stall when every suite starts
            // (scaled under a sanitizer, as the other hang guards).
            #expect(Date().timeIntervalSince(started) < 10 * TestTiming.slowdown, "\(path) answered at once")
        }
        #expect(try await httpRequest(port: api.port, "/v1/domains/nope/agent").status == 404)
        #expect(try await httpRequest(port: api.port, "/v1/domains/test/addresses?source=dns").status == 400)
        await api.stop()
    }

    @Test func requestsAreCheckedWithoutEchoingThePassword() async throws {
        let api = try APITestServer()
        let secret = "s3cret-\(UUID().uuidString.prefix(8))"
        let cases = [
            #"{"user":"a:b","password":"\#(secret)"}"#, #"{"user":"root","password":"\#(secret)","extra":1}"#,
            #"{"password":"\#(secret)"}"#, #"{"user":"root","password":"\#(secret)\u0007"}"#,
            #"{"user":"root","password":"\#(String(repeating: "x", count: 1025))"}"#,
        ]
        for body in cases {
            let refused = try await post(api, "/v1/domains/test/password", body)
            #expect(refused.status == 422, "\(refused.text)")
            #expect(try refused.json()["type"] as? String == "https://virthost.dev/problems/invalid-agent-request")
            #expect(!refused.text.contains(secret) && !refused.text.contains("xxxx"), "\(refused.text)")
        }
        let valid = try await post(api, "/v1/domains/test/password", #"{"user":"root","password":"\#(secret)"}"#)
        #expect(valid.status == 409 && !valid.text.contains(secret), "\(valid.text)")
        let badMountpoint = try await post(api, "/v1/domains/test/fs-freeze", #"{"mountpoints":["mnt", 3]}"#)
        #expect(badMountpoint.status == 422)
        let pointers = (try badMountpoint.json()["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String }
        #expect(pointers == ["/mountpoints/0", "/mountpoints/1"])
        #expect(try await post(api, "/v1/domains/test/fs-thaw", "{}").status == 409)
        await api.stop()
    }
}
