import Foundation
import Testing
import TestSupport

/// `/v1/domains`, `/v1/domains/{ref}` and `/v1/domains/{ref}/xml` on a test-driver node with
/// a domain in each state.
@Suite(.paced) struct DomainEndpointTests {
    func names(_ api: APITestServer, _ query: String) async throws -> [String] {
        let response = try await httpRequest(port: api.port, "/v1/domains\(query)")
        #expect(response.status == 200, "\(response.text)")
        let domains = try #require(try response.json()["domains"] as? [[String: Any]])
        return domains.compactMap { $0["name"] as? String }
    }

    @Test func listsAndFilters() async throws {
        let api = try APITestServer(uri: Fixtures.domainsInEveryStateURI)
        #expect(try await names(api, "") == ["crashed1", "off1", "paused1", "running1"])
        #expect(try await names(api, "?state=all&guests_only=false") == ["crashed1", "off1", "paused1", "running1"])
        #expect(try await names(api, "?state=active") == ["crashed1", "paused1", "running1"])
        #expect(try await names(api, "?state=inactive") == ["off1"])

        let bad = try await httpRequest(port: api.port, "/v1/domains?state=sleeping")
        #expect(bad.status == 400)
        #expect(try bad.json()["parameter"] as? String == "state")
        await api.stop()
    }

    @Test func listEntriesCarryEveryField() async throws {
        let api = try APITestServer(uri: Fixtures.domainsInEveryStateURI)
        let response = try await httpRequest(port: api.port, "/v1/domains")
        let domains = try #require(try response.json()["domains"] as? [[String: Any]])
        let off = try #require(domains.first { $0["name"] as? String == "off1" })
        #expect(off["id"] is NSNull)
        #expect(off["state"] as? String == "shutoff" && off["power_state"] as? String == "shutdown")
        #expect(off["uuid"] as? String == "33333333-3333-4333-8333-333333333333")
        #expect(off["vcpus"] as? Int == 4 && off["max_memory_mb"] as? Int == 4096)
        #expect(off["persistent"] as? Bool == true && off["autostart"] as? Bool == false)
        let running = try #require(domains.first { $0["name"] as? String == "running1" })
        #expect(running["id"] as? Int != nil && running["memory_mb"] as? Int == 512)
        await api.stop()
    }

    @Test func oneDomainByNameOrUUIDWithItsDevices() async throws {
        let api = try APITestServer(uri: Fixtures.domainsInEveryStateURI)
        for reference in ["running1", "11111111-1111-4111-8111-111111111111"] {
            let response = try await httpRequest(port: api.port, "/v1/domains/\(reference)")
            #expect(response.status == 200)
            let domain = try response.json()
            #expect(domain["name"] as? String == "running1")
            #expect((domain["cpu_time_ns"] as? Int ?? 0) > 0)
            let os = try #require(domain["os"] as? [String: Any])
            #expect(os["arch"] as? String == "x86_64")
            let disks = try #require(domain["disks"] as? [[String: Any]])
            #expect(disks.map { $0["target"] as? String } == ["vda", "vdb"])
            #expect(disks.first?["source"] as? String == "/var/lib/libvirt/images/running1.qcow2")
            let interfaces = try #require(domain["interfaces"] as? [[String: Any]])
            #expect(interfaces.first?["mac"] as? String == "52:54:00:12:34:56")
        }
        let missing = try await httpRequest(port: api.port, "/v1/domains/nope")
        #expect(missing.status == 404)
        #expect(try missing.json()["type"] as? String == "https://virthost.dev/problems/domain-not-found")
        await api.stop()
    }

    @Test func xmlLiveAndInactive() async throws {
        let api = try APITestServer(uri: Fixtures.domainsInEveryStateURI)
        let live = try await httpRequest(port: api.port, "/v1/domains/running1/xml")
        #expect(live.status == 200 && live.headers["content-type"] == "application/xml")
        #expect(live.text.hasPrefix("<domain type='test' id="))
        let inactive = try await httpRequest(port: api.port, "/v1/domains/running1/xml?inactive=true")
        #expect(inactive.text.hasPrefix("<domain type='test'>"))
        #expect(try await httpRequest(port: api.port, "/v1/domains/nope/xml").status == 404)
        await api.stop()
    }
}
