import Foundation
import Testing
import TestSupport

/// `PATCH /v1/domains/{ref}` (JSON merge patch) on the test driver's running domain `test`.
@Suite(.paced) struct DomainPatchEndpointTests {
    static func patch(_ api: APITestServer, _ reference: String, _ body: String,
                      contentType: String = "application/merge-patch+json") async throws -> HTTPTestResponse {
        try await httpRequest(port: api.port, "PATCH", "/v1/domains/\(reference)",
                              headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }

    @Test func setsAndRemovesSettings() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let patched = try await Self.patch(api, "test", #"""
            {"autostart":true,"title":"Web server","description":"line one\nline two","labels":{"team":"db","tier":"gold"}}
            """#)
        #expect(patched.status == 200, "\(patched.text)")
        let document = try patched.json()
        #expect(document["autostart"] as? Bool == true)
        #expect(document["title"] as? String == "Web server")
        #expect(document["description"] as? String == "line one\nline two")
        #expect(document["labels"] as? [String: String] == ["team": "db", "tier": "gold"])

        // The domain document agrees, read afresh.
        let read = try await httpRequest(port: api.port, "/v1/domains/test").json()
        #expect(read["labels"] as? [String: String] == ["team": "db", "tier": "gold"])

        // null removes one label, the title; other members stay.
        let removed = try await Self.patch(api, "test", #"{"title":null,"labels":{"tier":null,"zone":"a"}}"#)
        #expect(removed.status == 200, "\(removed.text)")
        let after = try removed.json()
        #expect(after["title"] is NSNull)
        #expect(after["description"] as? String == "line one\nline two")
        #expect(after["labels"] as? [String: String] == ["team": "db", "zone": "a"])

        let cleared = try await Self.patch(api, "test", #"{"labels":null,"autostart":false}"#)
        #expect(try cleared.json()["labels"] as? [String: String] == [:])
        #expect(try cleared.json()["autostart"] as? Bool == false)
        await api.stop()
    }

    /// A patch with any bad member changes nothing: every error comes back at once.
    @Test func aBadPatchChangesNothing() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let before = try await httpRequest(port: api.port, "/v1/domains/test").json()
        let bad = try await Self.patch(api, "test", #"""
            {"autostart":true,"title":"two\nlines","labels":{"bad key!":"x","ok":"y"},"vcpus_wanted":2}
            """#)
        #expect(bad.status == 422, "\(bad.text)")
        #expect(bad.headers["content-type"] == "application/problem+json")
        let pointers = Set(try #require(try bad.json()["errors"] as? [[String: Any]]).compactMap { $0["pointer"] as? String })
        #expect(pointers == ["/title", "/labels/bad key!", "/vcpus_wanted"])
        let after = try await httpRequest(port: api.port, "/v1/domains/test").json()
        #expect(after["autostart"] as? Bool == before["autostart"] as? Bool)
        #expect(after["labels"] as? [String: String] == [:])

        for body in ["[1]", #"{"autostart":"yes"}"#, #"{"labels":["a"]}"#] {
            #expect(try await Self.patch(api, "test", body).status == 422, "\(body)")
        }
        #expect(try await Self.patch(api, "test", "{").status == 400)
        // Only a merge patch is taken.
        #expect(try await Self.patch(api, "test", #"{"title":"x"}"#, contentType: "application/json").status == 415)
        #expect(try await Self.patch(api, "nosuchdomain", #"{"title":"x"}"#).status == 404)
        await api.stop()
    }

    /// A domain keeps at most 64 labels, across patches.
    @Test func labelsAreLimitedInAll() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let many = (0..<64).map { #""l\#($0)":"v""# }.joined(separator: ",")
        let full = try await Self.patch(api, "test", #"{"labels":{\#(many)}}"#)
        #expect(full.status == 200, "\(full.text)")
        #expect((try full.json()["labels"] as? [String: String])?.count == 64)

        let over = try await Self.patch(api, "test", #"{"title":"kept out","labels":{"one-more":"v"}}"#)
        #expect(over.status == 422, "\(over.text)")
        let errors = try #require(try over.json()["errors"] as? [[String: Any]])
        #expect(errors.first?["pointer"] as? String == "/labels")
        let after = try await httpRequest(port: api.port, "/v1/domains/test").json()
        #expect((after["labels"] as? [String: String])?.count == 64)
        #expect(after["title"] is NSNull)

        // Replacing one within the limit is fine.
        let replaced = try await Self.patch(api, "test", #"{"labels":{"l0":null,"one-more":"v"}}"#)
        #expect(replaced.status == 200, "\(replaced.text)")
        await api.stop()
    }
}

/// `vcpus` and `memory_mb` on the test driver's domain `test` (2 vCPUs, 8 GiB at most).
extension DomainPatchEndpointTests {
    @Test func sizesChangeWithinTheMaximumAndNotBeyond() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let patched = try await Self.patch(api, "test", #"{"vcpus":1,"memory_mb":1024}"#)
        #expect(patched.status == 200, "\(patched.text)")
        #expect(try patched.json()["vcpus"] as? Int == 1)
        #expect(try patched.json()["memory_mb"] as? Int == 1024)

        let beyond = try await Self.patch(api, "test", #"{"vcpus":3,"memory_mb":9000,"title":"t"}"#)
        #expect(beyond.status == 422, "\(beyond.text)")
        let errors = try #require(try beyond.json()["errors"] as? [[String: Any]])
        #expect(Set(errors.compactMap { $0["pointer"] as? String }) == ["/vcpus", "/memory_mb"])
        #expect((errors.first?["detail"] as? String)?.contains("at most 2") == true, "\(beyond.text)")
        let after = try await httpRequest(port: api.port, "/v1/domains/test").json()
        #expect(after["vcpus"] as? Int == 1 && after["memory_mb"] as? Int == 1024 && after["title"] is NSNull)
        await api.stop()
    }
}
