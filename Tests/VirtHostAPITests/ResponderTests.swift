import Foundation
import HTTPServer
import Testing
import TestSupport
import VirtHostAPI

/// Errors raised in the API's layers (admission, query parsing, spec reading, the Host,
/// idempotency) come back as problem documents whose `request_id` is the `X-Request-Id` header.
@Suite(.paced) struct ResponderTests {
    @Test func theRequestIdIsTheSameInHeaderAndProblemAtEveryAPILayer() async throws {
        let authenticator = Authenticator(tokens: try TokenFile(parsing: "ops write \(SHA256.hex(Array("secret".utf8)))"))
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI()) { $0.admission = authenticator.admission }
        let auth = [("Authorization", "Bearer secret")]
        let spec = #"{"spec": {"name": "web1", "memory_mb": 64, "virt_type": "test"}, "start": false}"#
        _ = try await httpRequest(port: api.port, "POST", "/v1/guests", headers: auth + [("Idempotency-Key", "k1")],
                                  body: Array(spec.utf8))
        let cases: [(String, String, [(String, String)], String, Int, String)] = [
            ("GET", "/v1/host", [], "", 401, "unauthorized"),
            ("GET", "/v1/domains?state=sideways", auth, "", 400, "bad-request"),
            ("GET", "/v1/domains/no-such-domain", auth, "", 404, "domain-not-found"),
            ("POST", "/v1/guests/render", auth, "{", 400, "malformed-json"),
            ("POST", "/v1/guests/render", auth, #"{"name": "x y", "memory_mb": 0}"#, 422, "invalid-guest-spec"),
            ("POST", "/v1/guests", auth + [("Idempotency-Key", "k1")], #"{"spec": {"name": "other"}}"#, 422,
             "idempotency-key-reused"),
            ("POST", "/v1/domains/test/resume", auth, "", 409, "invalid-state"),
        ]
        for (method, path, headers, body, status, type) in cases {
            let response = try await httpRequest(port: api.port, method, path, headers: headers, body: Array(body.utf8))
            #expect(response.status == status, "\(method) \(path)")
            let problem = try response.json()
            #expect(problem["type"] as? String == "https://virthost.dev/problems/\(type)", "\(method) \(path)")
            #expect(problem["request_id"] as? String == response.headers["x-request-id"], "\(method) \(path)")
        }
        // A replayed answer is the first one, but its problem carries the id of the request
        // it answers now, as its header does.
        let invalid = #"{"spec": {"name": "web2", "memory_mb": 0, "virt_type": "test"}}"#
        let first = try await httpRequest(port: api.port, "POST", "/v1/guests", headers: auth + [("Idempotency-Key", "k2")],
                                          body: Array(invalid.utf8))
        let replay = try await httpRequest(port: api.port, "POST", "/v1/guests", headers: auth + [("Idempotency-Key", "k2")],
                                           body: Array(invalid.utf8))
        #expect(first.status == 422)
        #expect(replay.status == 422 && replay.headers["idempotent-replayed"] == "true")
        #expect(try replay.json()["request_id"] as? String == replay.headers["x-request-id"])
        #expect(replay.headers["x-request-id"] != first.headers["x-request-id"])
        #expect(try replay.json()["errors"] as? [[String: String]] == (try first.json()["errors"] as? [[String: String]]))
        await api.stop()
    }
}
