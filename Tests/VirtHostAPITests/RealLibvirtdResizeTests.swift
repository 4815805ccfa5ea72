import Foundation
import Testing
import TestSupport

/// `PATCH /v1/domains/{ref}` of `vcpus` and `memory_mb` on a real guest defined with room to
/// grow, with `virsh vcpucount`, `dominfo` and `dumpxml --inactive` as witnesses.
extension RealLibvirtdTests {
    /// `virsh vcpucount` as (maximum config, maximum live, current config, current live).
    func vcpuCount(_ name: String) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in try run("virsh", ["-c", uri, "vcpucount", name]).split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.count == 3, let value = Int(words[2]) { counts["\(words[0]) \(words[1])"] = value }
        }
        return counts
    }

    /// The definition's `<currentMemory>` in KiB.
    func definedMemoryKiB(_ name: String) throws -> Int? {
        let xml = try run("virsh", ["-c", uri, "dumpxml", name, "--inactive"])
        guard let start = xml.range(of: "<currentMemory unit='KiB'>"),
              let end = xml[start.upperBound...].range(of: "<") else { return nil }
        return Int(xml[start.upperBound..<end.lowerBound])
    }

    func dominfo(_ name: String, _ field: String) throws -> String? {
        try run("virsh", ["-c", uri, "dominfo", name]).split(separator: "\n")
            .first { $0.hasPrefix(field + ":") }
            .map { $0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    @Test func vcpusAndMemoryChangeWithinTheRoomTheGuestWasDefinedWith() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"max_memory_mb":128,"vcpus":1,"max_vcpus":2,
                     "virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"}}}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        #expect(try vcpuCount(name) == ["maximum config": 2, "maximum live": 2, "current config": 1, "current live": 1])
        #expect(try dominfo(name, "Max memory") == "131072 KiB")

        // Live and in the definition (the defaults for a running persistent guest).
        let grown = try await DomainPatchEndpointTests.patch(api, name, #"{"vcpus":2}"#)
        #expect(grown.status == 200, "\(grown.text)")
        #expect(try grown.json()["vcpus"] as? Int == 2)
        #expect(try vcpuCount(name) == ["maximum config": 2, "maximum live": 2, "current config": 2, "current live": 2])

        // Beyond the maximum: a field error, and nothing changes (the memory member included).
        let beyond = try await DomainPatchEndpointTests.patch(api, name, #"{"vcpus":3,"memory_mb":256}"#)
        #expect(beyond.status == 422, "\(beyond.text)")
        let pointers = try #require(try beyond.json()["errors"] as? [[String: Any]]).compactMap { $0["pointer"] as? String }
        #expect(Set(pointers) == ["/vcpus", "/memory_mb"], "\(beyond.text)")
        #expect(try vcpuCount(name)["current config"] == 2)
        #expect(try definedMemoryKiB(name) == 65536)

        // A guest with no OS cannot give a vCPU back: the live unplug fails (QEMU's ACPI
        // unplug needs the guest), and the memory change made before it is undone.
        let refused = try await DomainPatchEndpointTests.patch(api, name, #"{"memory_mb":48,"labels":{"a":"b"},"vcpus":1}"#)
        #expect(refused.status == 422, "\(refused.text)")
        let refusal = try #require(try refused.json()["errors"] as? [[String: Any]]).first
        #expect(refusal?["pointer"] as? String == "/vcpus")
        #expect((refusal?["detail"] as? String)?.contains("on the running domain") == true, "\(refused.text)")
        #expect(try definedMemoryKiB(name) == 65536)
        #expect(try vcpuCount(name)["current config"] == 2)
        #expect(try await httpRequest(port: api.port, "/v1/domains/\(name)").json()["labels"] as? [String: String] == [:])

        // The definition alone (?live=false): the next boot has one vCPU and 48 MiB.
        let configOnly = try await httpRequest(port: api.port, "PATCH", "/v1/domains/\(name)?live=false",
                                               headers: [("Content-Type", "application/merge-patch+json")],
                                               body: Array(#"{"vcpus":1,"memory_mb":48}"#.utf8))
        #expect(configOnly.status == 200, "\(configOnly.text)")
        #expect(try vcpuCount(name) == ["maximum config": 2, "maximum live": 2, "current config": 1, "current live": 2])
        #expect(try definedMemoryKiB(name) == 49152)

        // The balloon on the running guest (QEMU takes the target; a guest with no balloon
        // driver keeps its pages, so dominfo's live figure is not the witness here).
        let ballooned = try await DomainPatchEndpointTests.patch(api, name, #"{"memory_mb":96}"#)
        #expect(ballooned.status == 200, "\(ballooned.text)")
        #expect(try definedMemoryKiB(name) == 98304)

        // Stopped, the definition is what dominfo shows; live=true is a 409.
        _ = try run("virsh", ["-c", uri, "destroy", name])
        let stopped = try await DomainPatchEndpointTests.patch(api, name, #"{"memory_mb":32,"vcpus":2}"#)
        #expect(stopped.status == 200, "\(stopped.text)")
        #expect(try dominfo(name, "Used memory") == "32768 KiB")
        #expect(try dominfo(name, "CPU(s)") == "2")
        let live = try await httpRequest(port: api.port, "PATCH", "/v1/domains/\(name)?live=true",
                                         headers: [("Content-Type", "application/merge-patch+json")],
                                         body: Array(#"{"vcpus":1}"#.utf8))
        #expect(live.status == 409, "\(live.text)")
        #expect(try dominfo(name, "CPU(s)") == "2")

        // Started again, the guest has what its definition says.
        _ = try run("virsh", ["-c", uri, "start", name])
        #expect(try vcpuCount(name)["current live"] == 2)
        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true", timeout: 60).status == 204)
        await api.stop()
    }
}
