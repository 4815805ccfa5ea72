import Foundation
import Testing
import TestSupport

/// A small guest through its whole life on the real libvirtd, with `virsh` as the witness.
/// Names start with `virthost-test-`, and every test removes what it made, even on failure.
extension RealLibvirtdTests {
    func virshState(_ name: String) throws -> String {
        try run("virsh", ["-c", uri, "domstate", name]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func removeGuest(_ name: String) {
        _ = try? run("virsh", ["-c", uri, "destroy", name])
        _ = try? run("virsh", ["-c", uri, "undefine", name, "--nvram"])
    }

    static func guestName() -> String { "virthost-test-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func aGuestLivesAndDiesAsVirshSees() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let images = "/var/lib/libvirt/images"
        let data = "\(images)/\(name)-data.qcow2", extra = "\(images)/\(name)-extra.qcow2"
        for path in [data, extra] { _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", path, "16M"]) }
        defer { for path in [data, extra] { try? FileManager.default.removeItem(atPath: path) } }

        let api = try APITestServer(uri: uri, instancesPath: images)
        func post(_ path: String, _ body: String = "") async throws -> HTTPTestResponse {
            try await httpRequest(port: api.port, "POST", path, body: Array(body.utf8), timeout: 60)
        }
        // 64 MiB, one vCPU, network boot: nothing to boot is fine. A SCSI disk brings the
        // virtio-scsi controller that hot-plugged SCSI disks go on (their unplug needs no guest).
        let created = try await post("/v1/guests", #"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),
                     "graphics":{"type":"none"},"disks":[{"source":"\#(data)","bus":"scsi"}]},"start":true}
            """#)
        #expect(created.status == 201, "\(created.text)")
        #expect(try virshState(name) == "running")

        let steps: [(String, String)] = [
            ("pause", "paused"), ("resume", "running"), ("reboot", "running"),
            ("shutdown?timeout_s=1&force=true", "shut off"), ("start", "running"), ("destroy", "shut off"),
            ("start?paused=true", "paused"), ("resume", "running"),
        ]
        for (action, expected) in steps {
            let response = try await post("/v1/domains/\(name)/\(action)")
            #expect(response.status == 200, "\(action): \(response.text)")
            #expect(try virshState(name) == expected, "after \(action)")
        }

        // Block counters from virConnectGetAllDomainStats, per disk.
        let metrics = try await httpRequest(port: api.port, "/metrics").text
        #expect(metrics.contains(#"libvirt_domain_block_stats_read_bytes_total{domain="\#(name)""#))
        #expect(metrics.contains(#"target_device="sda""#))

        let vcpus = try await httpRequest(port: api.port, "/v1/domains/\(name)/vcpus")
        #expect((try vcpus.json()["vcpus"] as? [[String: Any]])?.count == 1)

        // Hot-plug a qcow2 made by the test, then unplug it.
        let attached = try await post("/v1/domains/\(name)/devices", #"{"disk":{"source":"\#(extra)","bus":"scsi"}}"#)
        #expect(attached.status == 201, "\(attached.text)")
        let target = try #require(attached.headers["location"]?.split(separator: "/").last.map(String.init))
        #expect(target == "sdb")
        #expect(try run("virsh", ["-c", uri, "domblklist", name]).contains(extra))
        #expect(try run("virsh", ["-c", uri, "domblklist", name, "--inactive"]).contains(extra))
        let detached = try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)/devices/\(target)", timeout: 60)
        #expect(detached.status == 200, "\(detached.text)")
        #expect(try !run("virsh", ["-c", uri, "domblklist", name]).contains(extra))
        #expect(try !run("virsh", ["-c", uri, "domblklist", name, "--inactive"]).contains(extra))

        // Deleting a running guest needs force; disk files stay.
        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)").status == 409)
        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true").status == 204)
        await api.stop()
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
        #expect(FileManager.default.fileExists(atPath: data))
    }

    /// A guest that defines but cannot start (its PCI device does not exist) is removed again.
    @Test func aFailedStartLeavesNoDefinitionBehind() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","graphics":{"type":"none"},
                     "cpu":\#(RealLibvirtd.startableCPU),"pci_devices":[{"address":"0000:ff:1f.7"}]}}
            """#.utf8), timeout: 60)
        await api.stop()
        #expect(response.status == 500, "\(response.text)")
        let problem = try response.json()
        #expect(problem["type"] as? String == "https://virthost.dev/problems/operation-failed")
        #expect(problem["step"] as? String == "start")
        #expect(problem["rolled_back"] as? Bool == true)
        #expect(((problem["libvirt"] as? [String: Any])?["message"] as? String)?.isEmpty == false)
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
    }
}
