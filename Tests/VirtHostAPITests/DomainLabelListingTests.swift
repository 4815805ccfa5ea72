import Foundation
import Testing
import TestSupport

/// Labels given at creation, shown in the listing and filtering it (`?label=key=value`), on a
/// private test driver.
@Suite(.paced) struct DomainLabelListingTests {
    func create(_ api: APITestServer, _ name: String, labels: String) async throws {
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":128,"virt_type":"test","labels":\#(labels)},"start":false}
            """#.utf8))
        #expect(created.status == 201, "\(created.text)")
        #expect(try created.json()["labels"] as? [String: String] != nil)
    }

    func names(_ api: APITestServer, _ query: String) async throws -> [String] {
        let listed = try await httpRequest(port: api.port, "/v1/domains" + query)
        #expect(listed.status == 200, "\(listed.text)")
        return try #require(try listed.json()["domains"] as? [[String: Any]]).compactMap { $0["name"] as? String }
    }

    @Test func labelsFromCreationFilterTheListing() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        try await create(api, "labels-a", labels: #"{"owner":"team-a","tier":"gold"}"#)
        try await create(api, "labels-b", labels: #"{"owner":"team-b","tier":"gold","query":"x=y"}"#)

        let listed = try await httpRequest(port: api.port, "/v1/domains").json()
        let domains = try #require(listed["domains"] as? [[String: Any]])
        #expect(domains.first { $0["name"] as? String == "labels-a" }?["labels"] as? [String: String]
            == ["owner": "team-a", "tier": "gold"])
        #expect(domains.first { $0["name"] as? String == "test" }?["labels"] as? [String: String] == [:])

        #expect(try await names(api, "?label=tier=gold") == ["labels-a", "labels-b"])
        #expect(try await names(api, "?label=tier=gold&label=owner=team-b") == ["labels-b"])
        #expect(try await names(api, "?label=owner=team-c") == [])
        #expect(try await names(api, "?label=query=x%3Dy&state=inactive") == ["labels-b"])
        // A value that starts with a combining mark: "=" and it are one Character.
        #expect(try await names(api, "?label=owner=%CC%81") == [])

        // A patch shows in the next listing.
        let patched = try await DomainPatchEndpointTests.patch(api, "labels-a", #"{"labels":{"owner":"team-b"}}"#)
        #expect(patched.status == 200, "\(patched.text)")
        #expect(try await names(api, "?label=owner=team-b") == ["labels-a", "labels-b"])

        for query in ["?label=owner", "?label=bad%20key=x", "?label==x"] {
            let bad = try await httpRequest(port: api.port, "/v1/domains" + query)
            #expect(bad.status == 400, "\(query)")
            #expect(try bad.json()["parameter"] as? String == "label")
        }
        await api.stop()
    }

    @Test func badLabelsAtCreationAreFieldErrors() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let long = String(repeating: "v", count: 257)
        let refused = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"labels-bad","memory_mb":128,"virt_type":"test","labels":{"bad key":"x","ok":"\#(long)","n":1}}}
            """#.utf8))
        #expect(refused.status == 422, "\(refused.text)")
        let pointers = Set(try #require(try refused.json()["errors"] as? [[String: Any]]).compactMap { $0["pointer"] as? String })
        #expect(pointers == ["/spec/labels/bad key", "/spec/labels/ok", "/spec/labels/n"], "\(refused.text)")
        #expect(try await names(api, "") == ["test"])
        await api.stop()
    }
}
