import Foundation
import Testing
import TestSupport

/// Disk paths through the API, on the test driver with `--allowed-disk-root` set to a real
/// directory tree: each way out of the root is a 422 field error at its own disk, each way
/// of staying inside renders.
@Suite(.paced) struct DiskPathEndpointTests {
    static func body(_ disks: [String], name: String = "paths") throws -> [UInt8] {
        let spec: [String: Any] = ["name": name, "memory_mb": 64, "virt_type": "test", "disks": disks.map { ["source": $0] }]
        return Array(try JSONSerialization.data(withJSONObject: spec))
    }

    @Test func renderRefusesEachPathThatLeavesTheRootAtItsOwnPointer() async throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        let api = try APITestServer(instancesPath: fixture.root, allowedDiskRoots: [fixture.root, fixture.nfcRoot])
        let refused = fixture.refused
        // The accepted paths first, so the refused ones' indices are shifted: each error must
        // find its own disk.
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests/render",
                                             body: try Self.body(fixture.accepted.map(\.path) + refused.map(\.path)))
        let good = try await httpRequest(port: api.port, "POST", "/v1/guests/render", headers: [("Accept", "application/xml")],
                                         body: try Self.body(fixture.accepted.map(\.path)))
        await api.stop()

        #expect(response.status == 422)
        #expect(try response.json()["type"] as? String == "https://virthost.dev/problems/invalid-guest-spec")
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        let offset = fixture.accepted.count
        #expect(Set(errors.compactMap { $0["pointer"] }) == Set(refused.indices.map { "/disks/\($0 + offset)/source" }))
        for (index, (name, _, reason)) in refused.enumerated() {
            let details = errors.filter { $0["pointer"] == "/disks/\(index + offset)/source" }.compactMap { $0["detail"] }
            #expect(details.contains { $0.contains(reason) }, "\(name): \(details)")
        }

        #expect(good.status == 200, "\(good.text)")
        for (_, path) in fixture.accepted {
            #expect(good.text.contains("<source file='\(path)'/>"))
        }
    }

    @Test func createRefusesAPathThroughALinkAndDefinesNothing() async throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), instancesPath: fixture.root)
        let spec = String(decoding: try Self.body([fixture.root + "/disk.qcow2", fixture.root + "/dangling"], name: "escapes"),
                          as: UTF8.self)
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"{"spec":\#(spec)}"#.utf8))
        let lookup = try await httpRequest(port: api.port, "/v1/domains/escapes")
        await api.stop()
        #expect(response.status == 422)
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        #expect(errors.map { $0["pointer"] } == ["/spec/disks/1/source"])
        #expect(errors.first?["detail"]?.contains("resolves to \(fixture.base)/outside/later.qcow2") == true)
        #expect(lookup.status == 404)
    }

    /// Bytes that are not UTF-8 (an overlong `..`) are refused at the field, not repaired
    /// into a name of U+FFFD.
    @Test func renderRefusesBytesThatAreNotUTF8() async throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        let api = try APITestServer(instancesPath: fixture.root)
        let body = Array(#"{"name":"utf8","memory_mb":64,"virt_type":"test","disks":[{"source":"\#(fixture.root)/"#.utf8)
            + [0xC0, 0xAE, 0xC0, 0xAE, 0x2F, 0x78] + Array(#""}]}"#.utf8)
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests/render", body: body)
        await api.stop()
        #expect(response.status == 422)
        let errors = try #require(try response.json()["errors"] as? [[String: String]])
        #expect(errors == [["pointer": "/disks/0/source", "detail": "must be valid UTF-8"]])
    }
}
