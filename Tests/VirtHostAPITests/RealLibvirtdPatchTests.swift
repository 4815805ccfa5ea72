import Foundation
import Testing
import TestSupport

/// `PATCH /v1/domains/{ref}` of a real guest, with `virsh dominfo`, `desc` and `metadata` as
/// witnesses.
extension RealLibvirtdTests {
    @Test func aPatchedGuestShowsItsSettingsInVirsh() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"}}}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")

        let patched = try await DomainPatchEndpointTests.patch(api, name, #"""
            {"autostart":true,"title":"Build box","description":"for CI","labels":{"owner":"team-a","ticket":"42"}}
            """#)
        #expect(patched.status == 200, "\(patched.text)")
        #expect(try patched.json()["labels"] as? [String: String] == ["owner": "team-a", "ticket": "42"])

        let dominfo = try run("virsh", ["-c", uri, "dominfo", name])
        #expect(dominfo.contains { _ in true } && dominfo.split(separator: "\n").contains {
            $0.hasPrefix("Autostart:") && $0.hasSuffix("enable")
        }, "\(dominfo)")
        // The running guest and its definition both have them.
        for flag in ["--live", "--config"] {
            #expect(try run("virsh", ["-c", uri, "desc", name, "--title", flag]).contains("Build box"))
            #expect(try run("virsh", ["-c", uri, "desc", name, flag]).contains("for CI"))
            let metadata = try run("virsh", ["-c", uri, "metadata", name, "https://virthost.dev/xmlns/labels/1", flag])
            #expect(metadata.contains(#"<label key="owner">team-a</label>"#), "\(metadata)")
            #expect(metadata.contains(#"<label key="ticket">42</label>"#), "\(metadata)")
        }

        // A new service reads them back from libvirt.
        await api.stop()
        let again = try APITestServer(uri: uri)
        let read = try await httpRequest(port: again.port, "/v1/domains/\(name)").json()
        #expect(read["labels"] as? [String: String] == ["owner": "team-a", "ticket": "42"])
        #expect(read["title"] as? String == "Build box")

        // Only the definition: ?live=false.
        let configOnly = try await httpRequest(port: again.port, "PATCH", "/v1/domains/\(name)?live=false",
                                               headers: [("Content-Type", "application/merge-patch+json")],
                                               body: Array(#"{"labels":{"ticket":null}}"#.utf8))
        #expect(configOnly.status == 200, "\(configOnly.text)")
        let config = try run("virsh", ["-c", uri, "metadata", name, "https://virthost.dev/xmlns/labels/1", "--config"])
        #expect(!config.contains("ticket"))
        let live = try run("virsh", ["-c", uri, "metadata", name, "https://virthost.dev/xmlns/labels/1", "--live"])
        #expect(live.contains("ticket"))

        let off = try await DomainPatchEndpointTests.patch(again, name, #"{"autostart":false}"#)
        #expect(off.status == 200, "\(off.text)")
        #expect(try run("virsh", ["-c", uri, "dominfo", name]).split(separator: "\n").contains {
            $0.hasPrefix("Autostart:") && $0.hasSuffix("disable")
        })
        #expect(try await httpRequest(port: again.port, "DELETE", "/v1/domains/\(name)?force=true", timeout: 60).status == 204)
        await again.stop()
    }
}
