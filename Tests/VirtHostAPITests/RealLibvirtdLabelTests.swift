import Foundation
import Testing
import TestSupport

/// Labels given at creation on a real libvirtd: in the definition's metadata as `virsh`
/// reads it, in the listing of a new service, and filtering it.
extension RealLibvirtdTests {
    @Test func labelsFromCreationAreInVirshAndFilterTheListing() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},"labels":{"owner":"\#(name)","tier":"gold"}},
             "start":false}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        let metadata = try run("virsh", ["-c", uri, "metadata", name, "https://virthost.dev/xmlns/labels/1", "--config"])
        #expect(metadata.contains(#"<label key="owner">\#(name)</label>"#), "\(metadata)")
        await api.stop()

        let again = try APITestServer(uri: uri)
        let listed = try await httpRequest(port: again.port, "/v1/domains?label=owner=\(name)&label=tier=gold").json()
        let domains = try #require(listed["domains"] as? [[String: Any]])
        #expect(domains.map { $0["name"] as? String } == [name])
        #expect(domains.first?["labels"] as? [String: String] == ["owner": name, "tier": "gold"])
        let none = try await httpRequest(port: again.port, "/v1/domains?label=owner=\(name)&label=tier=silver").json()
        #expect((none["domains"] as? [[String: Any]])?.isEmpty == true)
        #expect(try await httpRequest(port: again.port, "DELETE", "/v1/domains/\(name)", timeout: 60).status == 204)
        await again.stop()
    }
}
