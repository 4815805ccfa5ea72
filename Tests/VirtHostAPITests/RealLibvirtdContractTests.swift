import Foundation
import Testing
import TestSupport

/// What the contract test (schemathesis against the real libvirtd) found answered 500 where the
/// caller was at fault, each now the documented 4xx.
extension RealLibvirtdTests {
    @Test func domainCapabilitiesForWhatTheHostLacksAreA400NamingIt() async throws {
        let api = try APITestServer(uri: uri)
        defer { Task { await api.stop() } }
        for (query, parameter) in [("arch=no-such-arch", "arch"), ("virt_type=xen", "virt_type"),
                                   ("arch=x86_64&machine=no-such-machine", "machine")] {
            let response = try await httpRequest(port: api.port, "/v1/host/domain-capabilities?\(query)")
            #expect(response.status == 400, "\(query): \(response.text)")
            #expect(try response.json()["parameter"] as? String == parameter)
        }
        let offered = try await httpRequest(port: api.port,
                                            "/v1/host/domain-capabilities?arch=x86_64&machine=q35&virt_type=\(RealLibvirtd.virtType)")
        #expect(offered.status == 200, "\(offered.text)")
    }

    /// A defined guest that is not running: live changes are a 409; a PCI device it has
    /// already is a 422 at the address, for its definition as for its live state.
    @Test func deviceChangesTheDomainCannotTakeAre4xx() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri, instancesPath: "/var/lib/libvirt/images")
        defer { Task { await api.stop() } }
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", headers: [("Content-Type", "application/json")],
                                            body: Array(#"{"spec": {"name": "\#(name)", "memory_mb": 64}, "start": false}"#.utf8))
        #expect(created.status == 201, "\(created.text)")
        let device = Array(#"{"pci_device": {"address": "0000:81:00.1"}}"#.utf8)
        let live = try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/devices?live=true",
                                         headers: [("Content-Type", "application/json")], body: device)
        #expect(live.status == 409, "\(live.text)")
        #expect(try live.json()["type"] as? String == "https://virthost.dev/problems/invalid-state")
        let detachLive = try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)/devices/vda?live=true")
        #expect(detachLive.status == 409, "\(detachLive.text)")

        let first = try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/devices",
                                          headers: [("Content-Type", "application/json")], body: device)
        #expect(first.status == 201, "\(first.text)")
        let again = try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/devices",
                                          headers: [("Content-Type", "application/json")], body: device)
        #expect(again.status == 422, "\(again.text)")
        let errors = try #require(try again.json()["errors"] as? [[String: String]])
        #expect(errors.map { $0["pointer"] } == ["/pci_device/address"])

        // A device libvirt's parser refuses (an rbd name without its pool): 422 at the device.
        let refused = try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/devices",
                                            headers: [("Content-Type", "application/json")], body: Array(#"""
            {"disk": {"source": {"protocol": "rbd", "name": "no-pool", "hosts": [{"name": "ceph-mon-1"}]}}}
            """#.utf8))
        #expect(refused.status == 422, "\(refused.text)")
        let refusal = try #require(try refused.json()["errors"] as? [[String: String]])
        #expect(refusal.first?["pointer"] == "/disk")
        #expect(refusal.first?["detail"]?.hasPrefix("libvirt refuses it: ") == true)
    }
}
