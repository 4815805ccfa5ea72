import Foundation
import Testing
import TestSupport

/// `POST …/disks/{target}/resize` and `PUT`/`DELETE …/disks/{target}/media` on libvirt's test
/// driver: requests are checked before libvirt is asked (field errors, a missing domain or
/// disk, a disk that takes no medium), and a CD-ROM drive may be defined empty. Disks grown
/// and media changed for real: `RealLibvirtdTests.aDiskGrowsWhileItsGuestRunsAndThroughItsPoolWhenStopped`
/// and `aCDROMTakesMediaWhileItsGuestRunsAndEjectsThem`.
@Suite(.paced) struct DomainDiskEndpointTests {
    @Test func resizeRequestsAreCheckedFirst() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        func resize(_ domain: String, _ target: String, _ body: String) async throws -> HTTPTestResponse {
            try await httpRequest(port: api.port, "POST", "/v1/domains/\(domain)/disks/\(target)/resize",
                                  body: Array(body.utf8))
        }
        let missingField = try await resize("test", "vda", "{}")
        #expect(missingField.status == 422, "\(missingField.text)")
        #expect((try missingField.json()["errors"] as? [[String: Any]])?.first?["pointer"] as? String == "/capacity_bytes")
        let unknownField = try await resize("test", "vda", #"{"capacity_bytes":1048576,"shrink":true}"#)
        #expect(unknownField.status == 422, "\(unknownField.text)")
        #expect(try await resize("test", "vda", "{").status == 400)
        let noDomain = try await resize("no-such-domain", "vda", #"{"capacity_bytes":1048576}"#)
        #expect(noDomain.status == 404)
        #expect(try noDomain.json()["type"] as? String == "https://virthost.dev/problems/domain-not-found")
        let noDisk = try await resize("test", "vdq", #"{"capacity_bytes":1048576}"#)
        #expect(noDisk.status == 404, "\(noDisk.text)")
        #expect(try noDisk.json()["type"] as? String == "https://virthost.dev/problems/device-not-found")
    }

    @Test func mediaRequestsAreCheckedFirstAndOnlyACDROMTakesOne() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        func media(_ method: String, _ domain: String, _ target: String, _ body: String = "") async throws
            -> HTTPTestResponse {
            try await httpRequest(port: api.port, method, "/v1/domains/\(domain)/disks/\(target)/media",
                                  body: Array(body.utf8))
        }
        func pointer(_ response: HTTPTestResponse) throws -> String? {
            (try response.json()["errors"] as? [[String: Any]])?.first?["pointer"] as? String
        }
        for body in ["{}", #"{"source":5}"#, #"{"source":"relative.iso"}"#, #"{"source":"/a/../b.iso"}"#] {
            let refused = try await media("PUT", "test", "sda", body)
            #expect(refused.status == 422, "\(body): \(refused.text)")
            #expect(try pointer(refused) == "/source", "\(body)")
        }
        let badVolume = try await media("PUT", "test", "sda", #"{"source":{"pool":"..","volume":"x.iso"}}"#)
        #expect(badVolume.status == 422, "\(badVolume.text)")
        #expect(try pointer(badVolume) == "/source/pool")
        let extra = try await media("PUT", "test", "sda", #"{"source":"/tmp/x.iso","tray":"open"}"#)
        #expect(extra.status == 422, "\(extra.text)")
        #expect(try pointer(extra) == "/tray")

        // The test domain's vda is a disk: it takes no medium, and nothing is asked of libvirt.
        let notRemovable = try await media("PUT", "test", "vda", #"{"source":"\#(NSTemporaryDirectory())x.iso"}"#)
        #expect(notRemovable.status == 409, "\(notRemovable.text)")
        let problem = try notRemovable.json()
        #expect(problem["type"] as? String == "https://virthost.dev/problems/disk-not-removable")
        #expect(problem["target"] as? String == "vda")
        #expect(problem["device"] as? String == "disk")
        #expect(try await media("DELETE", "test", "vda").status == 409)
        #expect(try await media("DELETE", "test", "vdq").status == 404)
        #expect(try await media("DELETE", "no-such-domain", "sda").status == 404)
        let badForce = try await httpRequest(port: api.port, "DELETE", "/v1/domains/test/disks/vda/media?force=maybe")
        #expect(badForce.status == 400, "\(badForce.text)")
    }

    /// A CD-ROM drive may be defined with no medium; any other disk still needs a source.
    @Test func aCDROMDriveMayBeDefinedEmpty() async throws {
        // A driver of its own: test:///default is shared by every test of the process.
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        defer { Task { await api.stop() } }
        let name = "empty-cdrom-\(UUID().uuidString.prefix(8).lowercased())"
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"disks":[{"device":"cdrom"}]},"start":false}
            """#.utf8))
        #expect(created.status == 201, "\(created.text)")
        let disks = try #require(try created.json()["disks"] as? [[String: Any]])
        #expect(disks.count == 1)
        #expect(disks.first?["device"] as? String == "cdrom")
        #expect(disks.first?["source"] == nil, "an empty drive has no source")
        _ = try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)")

        let sourceless = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"disks":[{"device":"disk"}]},"start":false}
            """#.utf8))
        #expect(sourceless.status == 422, "\(sourceless.text)")
        #expect(sourceless.text.contains("/spec/disks/0/source"))
    }
}
