import Foundation
import Testing
import TestSupport

/// The documents the API also has as XML (capabilities, domain XML) and the OpenAPI document:
/// `?format=` first, then `Accept`, else each endpoint's usual form.
@Suite(.paced) struct ContentNegotiationTests {
    @Test func capabilitiesAreJSONUnlessXMLIsAskedFor() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        for accept in [nil, "application/json", "*/*", "application/*", "application/xml;q=0.1, application/json"] {
            let response = try await httpRequest(port: api.port, "/v1/host/capabilities",
                                                 headers: accept.map { [("Accept", $0)] } ?? [])
            #expect(response.headers["content-type"] == "application/json", "Accept: \(accept ?? "none")")
            #expect(try response.json()["guests"] is [Any])
            #expect(response.headers["vary"] == "Accept")
        }
        for accept in ["application/xml", "text/xml", "application/json;q=0.5, application/xml"] {
            let response = try await httpRequest(port: api.port, "/v1/host/capabilities", headers: [("Accept", accept)])
            #expect(response.headers["content-type"] == "application/xml", "Accept: \(accept)")
            #expect(response.text.hasPrefix("<capabilities>"))
        }
        // The query parameter wins over the header, both ways.
        let json = try await httpRequest(port: api.port, "/v1/host/capabilities?format=json",
                                         headers: [("Accept", "application/xml")])
        #expect(json.headers["content-type"] == "application/json")
        let xml = try await httpRequest(port: api.port, "/v1/host/capabilities?format=xml",
                                        headers: [("Accept", "application/json")])
        #expect(xml.headers["content-type"] == "application/xml")
    }

    /// Domain XML stays XML by default; JSON clients ask with `format=json` or `Accept`.
    @Test func domainXMLIsWrappedAsJSONWhenAskedFor() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        let raw = try await httpRequest(port: api.port, "/v1/domains/test/xml")
        #expect(raw.headers["content-type"] == "application/xml")
        for (path, accept) in [("/v1/domains/test/xml?format=json", nil), ("/v1/domains/test/xml", "application/json")] {
            let wrapped = try await httpRequest(port: api.port, path, headers: accept.map { [("Accept", $0)] } ?? [])
            #expect(wrapped.status == 200)
            #expect(wrapped.headers["content-type"] == "application/json")
            #expect(try wrapped.json()["xml"] as? String == raw.text)
        }
        let bad = try await httpRequest(port: api.port, "/v1/domains/test/xml?format=html")
        #expect(bad.status == 400)
        #expect(try bad.json()["parameter"] as? String == "format")
    }

    @Test func theOpenAPIDocumentComesWrappedAsJSONWhenAskedFor() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        let yaml = try await httpRequest(port: api.port, "/openapi.yaml")
        #expect(yaml.headers["content-type"] == "application/yaml")
        let json = try await httpRequest(port: api.port, "/openapi.yaml?format=json")
        #expect(json.headers["content-type"] == "application/json")
        #expect(try json.json()["yaml"] as? String == yaml.text)
        #expect(try await httpRequest(port: api.port, "/openapi.yaml?format=xml").status == 400)
    }
}
