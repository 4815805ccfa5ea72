import Foundation
import Testing
import TestSupport

/// `POST /v1/guests/render`: a spec in, domain XML or field errors out, and nothing defined.
@Suite(.paced) struct GuestRenderEndpointTests {
    func render(_ api: APITestServer, _ json: String, accept: String? = nil) async throws -> HTTPTestResponse {
        try await httpRequest(port: api.port, "POST", "/v1/guests/render",
                              headers: accept.map { [("Accept", $0)] } ?? [], body: Array(json.utf8))
    }

    static let spec = #"{"name":"rendered","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":256,"virt_type":"test"}"#

    @Test func rendersXMLOnTheTestDriverWithoutDefiningAnything() async throws {
        let api = try APITestServer()
        let before = try await httpRequest(port: api.port, "/v1/domains").text
        let response = try await render(api, Self.spec, accept: "application/xml")
        #expect(response.status == 200, "\(response.text)")
        #expect(response.headers["content-type"] == "application/xml")
        #expect(response.text.hasPrefix("<domain type='test'>\n  <name>rendered</name>"))
        // The test driver's host is i686: no q35 default there.
        #expect(response.text.contains("<type arch='i686'>hvm</type>"))
        #expect(try await httpRequest(port: api.port, "/v1/domains").text == before)
        await api.stop()
    }

    @Test func answersJSONUnlessXMLIsAskedFor() async throws {
        let api = try APITestServer()
        for accept in [nil, "application/json", "*/*", "application/xml;q=0.5, application/json"] {
            let response = try await render(api, Self.spec, accept: accept)
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "application/json", "Accept: \(accept ?? "none")")
            #expect(response.headers["vary"] == "Accept")
            #expect((try response.json()["xml"] as? String)?.contains("<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>") == true)
        }
        let asked = try await httpRequest(port: api.port, "POST", "/v1/guests/render?format=xml",
                                          headers: [("Accept", "application/json")], body: Array(Self.spec.utf8))
        #expect(asked.headers["content-type"] == "application/xml")
        #expect(asked.text.hasPrefix("<domain type='test'>"))
        let bad = try await httpRequest(port: api.port, "POST", "/v1/guests/render?format=yaml", body: Array(Self.spec.utf8))
        #expect(bad.status == 400)
        #expect(try bad.json()["parameter"] as? String == "format")
        await api.stop()
    }

    /// The smallest spec names no virt type, arch or machine: the host's own are taken
    /// (libvirt's test driver runs only `test` domains on i686), and it renders and creates.
    @Test func theSmallestSpecRendersAndCreatesWithTheHostsDefaults() async throws {
        // A driver of its own: it creates a domain.
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let rendered = try await render(api, #"{"name": "web3", "memory_mb": 1024}"#, accept: "application/xml")
        #expect(rendered.status == 200, "\(rendered.text)")
        #expect(rendered.text.hasPrefix("<domain type='test'>"))
        #expect(rendered.text.contains("<type arch='i686'>hvm</type>"))
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests",
                                            headers: [("Content-Type", "application/json")],
                                            body: Array(#"{"spec": {"name": "web3", "memory_mb": 1024}}"#.utf8))
        #expect(created.status == 201, "\(created.text)")
        #expect(try created.json()["name"] as? String == "web3")
        await api.stop()
    }

    @Test func fieldErrorsAre422WithPointers() async throws {
        let api = try APITestServer()
        let response = try await render(api, #"{"name":"bad name","memory_mb":0,"virt_type":"kvm","extra":true}"#)
        #expect(response.status == 422)
        #expect(response.headers["content-type"] == "application/problem+json")
        let problem = try response.json()
        #expect(problem["type"] as? String == "https://virthost.dev/problems/invalid-guest-spec")
        let errors = try #require(problem["errors"] as? [[String: String]])
        #expect(Set(errors.compactMap { $0["pointer"] }) == ["/name", "/memory_mb", "/virt_type", "/extra"])
        // The test driver offers only `test` domains: the error says so.
        #expect(errors.first { $0["pointer"] == "/virt_type" }?["detail"]?.contains("test") == true)
        await api.stop()
    }

    @Test func aBodyThatIsNotJSONIsA400AtTheRoot() async throws {
        let api = try APITestServer()
        let response = try await render(api, "{nope")
        #expect(response.status == 400)
        #expect(try response.json()["type"] as? String == "https://virthost.dev/problems/malformed-json")
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        #expect(errors.first?["pointer"] == "")
        await api.stop()
    }

    /// Found by the fuzzing oracle's seeds: this product overflowed and trapped, taking the
    /// whole service down with one request.
    @Test func aTopologyWhoseProductOverflowsIsA422NotACrash() async throws {
        let api = try APITestServer()
        let response = try await render(api, #"""
            {"name":"big","memory_mb":64,"virt_type":"test","cpu":{"topology":{"sockets":4294967296,"cores":4294967296,"threads":1}}}
            """#)
        let health = try await httpRequest(port: api.port, "/healthz")
        await api.stop()
        #expect(response.status == 422)
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        #expect(errors.first { $0["pointer"] == "/cpu/topology" }?["detail"]?.contains("too large") == true)
        #expect(health.status == 200)
    }

    @Test func diskPathsOutsideTheAllowedRootsAreRefused() async throws {
        let api = try APITestServer(instancesPath: "/var/lib/libvirt/images")
        let response = try await render(api, #"{"name":"a","memory_mb":1,"virt_type":"test","disks":[{"source":"/etc/shadow"}]}"#)
        #expect(response.status == 422)
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        #expect(errors.first?["pointer"] == "/disks/0/source")
        #expect(errors.first?["detail"]?.contains("/var/lib/libvirt/images") == true)
        await api.stop()
    }
}

/// Render validation against what the real host offers (domain capabilities).
extension RealLibvirtdTests {
    @Test func renderValidatesAgainstTheRealHostsOffer() async throws {
        let api = try APITestServer(uri: uri, instancesPath: "/var/lib/libvirt/images")
        let virtType = RealLibvirtd.virtType
        let good = try await httpRequest(port: api.port, "POST", "/v1/guests/render?format=xml", body: Array(#"""
            {"name":"ok","memory_mb":256,"virt_type":"\#(virtType)","disks":[{"source":"/var/lib/libvirt/images/ok.qcow2"}]}
            """#.utf8))
        #expect(good.status == 200, "\(good.text)")
        #expect(good.text.contains("<type arch='x86_64' machine='q35'>hvm</type>"))

        let bad = try await httpRequest(port: api.port, "POST", "/v1/guests/render", body: Array(#"""
            {"name":"bad","memory_mb":256,"vcpus":100000,"virt_type":"\#(virtType)","os":{"machine":"no-such-machine"},
             "disks":[{"source":"/var/lib/libvirt/images/bad.qcow2","bus":"ide"}],"cpu":{"model":"NoSuchCPU"}}
            """#.utf8))
        await api.stop()
        #expect(bad.status == 422)
        let errors = try #require(try bad.json()["errors"] as? [[String: String]])
        let pointers = Set(errors.compactMap { $0["pointer"] })
        #expect(pointers.contains("/os/machine") && pointers.contains("/vcpus"))
        #expect(errors.first { $0["pointer"] == "/os/machine" }?["detail"]?.contains("q35") == true)
    }

    /// With no virt type named, the real host's best one is taken: `kvm` where /dev/kvm works
    /// (the test command says which in VIRTHOST_TEST_VIRT_TYPE), and x86_64 gets q35.
    @Test func renderTakesTheRealHostsVirtTypeWhenTheSpecNamesNone() async throws {
        let api = try APITestServer(uri: uri, instancesPath: "/var/lib/libvirt/images")
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests/render",
                                             headers: [("Accept", "application/xml")],
                                             body: Array(#"{"name": "web3", "memory_mb": 1024}"#.utf8))
        await api.stop()
        #expect(response.status == 200, "\(response.text)")
        #expect(response.text.hasPrefix("<domain type='\(RealLibvirtd.virtType)'>"))
        #expect(response.text.contains("<type arch='x86_64' machine='q35'>hvm</type>"))
    }

    @Test func renderChecksBusAndCPUModelAgainstDomainCapabilities() async throws {
        let api = try APITestServer(uri: uri, instancesPath: "/var/lib/libvirt/images")
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests/render", body: Array(#"""
            {"name":"bad","memory_mb":256,"virt_type":"\#(RealLibvirtd.virtType)",
             "disks":[{"source":"/var/lib/libvirt/images/bad.qcow2","bus":"ide"}],"cpu":{"model":"NoSuchCPU"}}
            """#.utf8))
        await api.stop()
        #expect(response.status == 422)
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        let bus = errors.first { $0["pointer"] == "/disks/0/bus" }?["detail"]
        #expect(bus?.contains("virtio") == true && bus?.contains("ide") == false)
        #expect(errors.contains { $0["pointer"] == "/cpu/model" })
    }
}
