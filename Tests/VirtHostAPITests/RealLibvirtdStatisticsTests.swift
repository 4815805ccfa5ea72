import Foundation
import Testing
import TestSupport

/// `GET /v1/domains/{ref}/stats` of a real guest, compared with `virsh domstats`.
extension RealLibvirtdTests {
    @Test func aGuestsStatisticsAgreeWithVirshDomstats() async throws {
        let bridge = try TestBridge()
        defer { bridge.remove() }
        let name = Self.guestName()
        defer { removeGuest(name) }
        let images = "/var/lib/libvirt/images"
        let data = "\(images)/\(name)-data.qcow2"
        _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", data, "16M"])
        defer { try? FileManager.default.removeItem(atPath: data) }

        let api = try APITestServer(uri: uri, instancesPath: images)
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},
                     "disks":[{"source":"\#(data)","bus":"scsi"}],
                     "interfaces":[{"type":"bridge","source":"\#(bridge.name)"}]},"start":false}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")

        // Stopped: no CPU figures (virsh shows some, of a process that is not the guest's);
        // the disk's sizes come from its file.
        let stopped = try await httpRequest(port: api.port, "/v1/domains/\(name)/stats")
        #expect(stopped.status == 200, "\(stopped.text)")
        let stoppedStats = try stopped.json()
        #expect(stoppedStats["cpu"] is NSNull)
        let stoppedBalloon = try #require(stoppedStats["balloon"] as? [String: Any])
        let stoppedVirsh = try DomainStatisticsEndpointTests.virshStats(uri, name, DomainStatisticsEndpointTests.virshGroups)
        #expect(stoppedBalloon["maximum_kib"] as? Int == stoppedVirsh["balloon.maximum"].flatMap { Int($0) })
        #expect(stoppedBalloon["rss_kib"] is NSNull)
        let stoppedDisk = try #require((stoppedStats["block"] as? [[String: Any]])?.first)
        #expect(stoppedDisk["capacity_bytes"] as? Int == 16 * 1024 * 1024)
        #expect(stoppedDisk["path"] as? String == data)

        #expect(try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/start", timeout: 60).status == 200)
        let response = try await httpRequest(port: api.port, "/v1/domains/\(name)/stats")
        #expect(response.status == 200, "\(response.text)")
        let stats = try response.json()
        // Read after ours: counters in virsh's are at least ours.
        let virsh = try DomainStatisticsEndpointTests.virshStats(uri, name, DomainStatisticsEndpointTests.virshGroups)
        func virshNumber(_ field: String) -> Int? { virsh[field].flatMap { Int($0) } }

        let cpu = try #require(stats["cpu"] as? [String: Any])
        let cpuTime = try #require(cpu["time_ns"] as? Int)
        #expect(cpuTime > 0 && cpuTime <= virshNumber("cpu.time") ?? 0)

        let balloon = try #require(stats["balloon"] as? [String: Any])
        #expect(balloon["maximum_kib"] as? Int == 65536 && virshNumber("balloon.maximum") == 65536)
        #expect(balloon["current_kib"] as? Int == virshNumber("balloon.current"))
        #expect(balloon["rss_kib"] as? Int ?? 0 > 0)
        #expect(balloon.keys.contains("guest"))

        let disks = try #require(stats["block"] as? [[String: Any]])
        #expect(disks.count == virshNumber("block.count"))
        let disk = try #require(disks.first)
        #expect(disk["name"] as? String == virsh["block.0.name"] && disk["name"] as? String == "sda")
        #expect(disk["path"] as? String == virsh["block.0.path"])
        #expect(disk["capacity_bytes"] as? Int == virshNumber("block.0.capacity"))
        #expect(disk["capacity_bytes"] as? Int == 16 * 1024 * 1024)
        #expect(disk["read_requests"] as? Int ?? -1 <= virshNumber("block.0.rd.reqs") ?? -1)
        #expect(disk["write_bytes"] as? Int ?? -1 <= virshNumber("block.0.wr.bytes") ?? -1)

        let interfaces = try #require(stats["interface"] as? [[String: Any]])
        #expect(interfaces.count == 1 && virshNumber("net.count") == 1)
        let interface = try #require(interfaces.first)
        #expect(interface["name"] as? String == virsh["net.0.name"])
        #expect(interface["tx_packets"] as? Int ?? -1 <= virshNumber("net.0.tx.pkts") ?? -1)
        #expect(interface["rx_bytes"] as? Int ?? -1 <= virshNumber("net.0.rx.bytes") ?? -1)

        // Narrowed: one group, one libvirt call.
        let narrowed = try await httpRequest(port: api.port, "/v1/domains/\(name)/stats?stats=balloon")
        #expect(Set(try narrowed.json().keys) == ["name", "uuid", "sampled_at", "balloon"])

        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true", timeout: 60).status == 204)
        await api.stop()
    }
}
