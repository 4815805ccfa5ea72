import Foundation
import Testing
import TestSupport

/// Creation as one sequence per domain, on the real libvirtd.
extension RealLibvirtdTests {
    /// A client retrying without an Idempotency-Key: many creates at once with one UUID and a
    /// firewall-enabled interface. One wins; the others wait for it under the domain's lock,
    /// find its domain and make nothing, so they undo nothing of its: its filter stays, bound
    /// to its tap device while it runs.
    @Test func concurrentCreatesWithOneUUIDLeaveOneGuestWithItsFilterInForce() async throws {
        let bridge = try TestBridge()
        defer { bridge.remove() }
        let uuid = UUID().uuidString.lowercased()
        let names = (0..<8).map { _ in Self.guestName() }
        defer { for name in names { removeGuest(name) } }
        let filterPrefix = "virthost-\(uuid)-"
        defer {
            let filters = (try? run("virsh", ["-c", uri, "nwfilter-list"])) ?? ""
            for line in filters.split(separator: "\n") {
                if let name = line.split(separator: " ").first(where: { $0.hasPrefix(filterPrefix) }) {
                    _ = try? run("virsh", ["-c", uri, "nwfilter-undefine", String(name)])
                }
            }
        }
        let api = try APITestServer(uri: uri)
        let statuses = try await withThrowingTaskGroup(of: (String, Int, String).self) { group in
            for name in names {
                group.addTask {
                    let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
                        {"spec":{"name":"\#(name)","uuid":"\#(uuid)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)",
                                 "os":{"boot":["network"]},"cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},
                                 "interfaces":[{"type":"bridge","source":"\#(bridge.name)",
                                                "firewall":{"enabled":true,"allowed_ips":["192.0.2.9"]}}]}}
                        """#.utf8), timeout: 120)
                    return (name, response.status, response.text)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let created = statuses.filter { $0.1 == 201 }
        #expect(created.count == 1, "\(statuses)")
        #expect(statuses.filter { $0.1 == 409 }.count == names.count - 1, "\(statuses)")
        #expect(statuses.filter { $0.1 == 409 }.allSatisfy { $0.2.contains("domain-exists") })
        let winner = try #require(created.first?.0)

        // Exactly one domain has the UUID, and it is the winner's.
        let all = try run("virsh", ["-c", uri, "list", "--all", "--uuid"])
        #expect(all.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces) == uuid }.count == 1)
        #expect(try run("virsh", ["-c", uri, "domuuid", winner]).trimmingCharacters(in: .whitespacesAndNewlines) == uuid)
        for name in names where name != winner {
            #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
        }
        // Its filter is intact and bound to its running interface.
        #expect(try virshState(winner) == "running")
        #expect(try run("virsh", ["-c", uri, "nwfilter-list"]).contains(filterPrefix))
        #expect(try run("virsh", ["-c", uri, "nwfilter-binding-list"]).contains(filterPrefix))
        let report = try await httpRequest(port: api.port, "/v1/domains/\(winner)/firewall")
        let interfaces = try #require(try report.json()["interfaces"] as? [[String: Any]])
        #expect(interfaces.first?["in_force"] as? Bool == true)

        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(winner)?force=true", timeout: 60).status == 204)
        #expect(try !run("virsh", ["-c", uri, "nwfilter-list"]).contains(filterPrefix))
        await api.stop()
    }
}
