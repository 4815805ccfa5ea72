import Foundation
import Testing
import TestSupport

/// VIF checks and the nwfilter firewall on the real libvirtd, with a bridge the test makes.
extension RealLibvirtdTests {
    /// A Linux bridge for one test, removed afterwards.
    struct TestBridge {
        let name = "vhbr\(UUID().uuidString.prefix(6).lowercased())"

        init() throws {
            _ = try run("ip", ["link", "add", name, "type", "bridge"])
            _ = try run("ip", ["link", "set", name, "up"])
        }

        func remove() { _ = try? run("ip", ["link", "del", name]) }
    }

    @Test func aFirewalledGuestRunsProtectedAndLeavesNoFilterBehind() async throws {
        let bridge = try TestBridge()
        defer { bridge.remove() }
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},
                     "interfaces":[{"type":"bridge","source":"\#(bridge.name)",
                                    "firewall":{"enabled":true,"allowed_ips":["192.0.2.7"],"allow_dhcp":true}}]}}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        let uuid = try #require(try created.json()["uuid"] as? String)
        let filterPrefix = "virthost-\(uuid)-"

        // libvirt has bound the guest's filter to its tap device.
        let bindings = try run("virsh", ["-c", uri, "nwfilter-binding-list"])
        let binding = try #require(bindings.split(separator: "\n").first { $0.contains(filterPrefix) },
                                   "no binding in \(bindings)")
        let tap = String(binding.split(separator: " ").first ?? "")

        let report = try await httpRequest(port: api.port, "/v1/domains/\(name)/firewall")
        #expect(report.status == 200, "\(report.text)")
        let interfaces = try #require(try report.json()["interfaces"] as? [[String: Any]])
        #expect(interfaces.count == 1)
        #expect(interfaces.first?["in_force"] as? Bool == true)
        #expect(interfaces.first?["target"] as? String == tap)
        #expect((interfaces.first?["filter"] as? String)?.hasPrefix(filterPrefix) == true)
        #expect((interfaces.first?["parameters"] as? [String: [String]])?["IP"] == ["192.0.2.7"])

        let listed = try await httpRequest(port: api.port, "/v1/firewall/filters").text
        #expect(listed.contains(filterPrefix))

        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true", timeout: 60).status == 204)
        #expect(try !run("virsh", ["-c", uri, "nwfilter-list"]).contains(filterPrefix))
        #expect(try !run("virsh", ["-c", uri, "nwfilter-binding-list"]).contains(filterPrefix))
        await api.stop()
    }

    @Test func aMissingBridgeIsAFieldErrorAndNothingIsDefined() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        let before = try run("virsh", ["-c", uri, "nwfilter-list"])
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)",
                     "interfaces":[{"type":"bridge","source":"vhbr-missing","firewall":{"allowed_ips":["192.0.2.8"]}},
                                   {"type":"network","source":"virthost-no-such-net"}]}}
            """#.utf8), timeout: 60)
        await api.stop()
        #expect(response.status == 422)
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        #expect(Set(errors.compactMap { $0["pointer"] }) == ["/spec/interfaces/0/source", "/spec/interfaces/1/source"])
        #expect(errors.first { $0["pointer"] == "/spec/interfaces/0/source" }?["detail"]?.contains("vhbr-missing") == true)
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
        #expect(try run("virsh", ["-c", uri, "nwfilter-list"]) == before)
    }

    /// Filters whose domain is gone are reported, and removed with prune=true.
    @Test func orphanedFiltersAreReportedAndPruned() async throws {
        let orphan = "virthost-\(UUID().uuidString.lowercased())-525400000001"
        let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(orphan).xml")
        try "<filter name='\(orphan)' chain='root'><filterref filter='clean-traffic'/></filter>"
            .write(to: file, atomically: true, encoding: .utf8)
        _ = try run("virsh", ["-c", uri, "nwfilter-define", file.path])
        defer { _ = try? run("virsh", ["-c", uri, "nwfilter-undefine", orphan]) }
        let api = try APITestServer(uri: uri)
        let listed = try await httpRequest(port: api.port, "/v1/firewall/filters").json()
        let entry = (listed["filters"] as? [[String: Any]])?.first { $0["name"] as? String == orphan }
        #expect(entry?["orphaned"] as? Bool == true && entry?["removed"] as? Bool == false)
        let pruned = try await httpRequest(port: api.port, "/v1/firewall/filters?prune=true").json()
        let prunedEntry = (pruned["filters"] as? [[String: Any]])?.first { $0["name"] as? String == orphan }
        #expect(prunedEntry?["removed"] as? Bool == true)
        await api.stop()
        #expect(try !run("virsh", ["-c", uri, "nwfilter-list"]).contains(orphan))
    }
}
