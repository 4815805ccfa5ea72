import Foundation
import Testing
import TestSupport

/// `POST …/volumes/{volume}/resize` on libvirt's test driver, which cannot resize: the request
/// is checked first (field errors, names, a missing volume), then libvirt's refusal is a 501.
/// Growing for real is `RealLibvirtdTests.aVolumeGrowsButNeverShrinksNorUnderARunningGuest`.
@Suite(.paced) struct VolumeResizeEndpointTests {
    @Test func theRequestIsCheckedAndTheTestDriverSaysItCannotResize() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        let volumes = "/v1/storage/pools/default-pool/volumes"
        let name = "resize-\(UUID().uuidString.prefix(8).lowercased()).qcow2"
        let created = try await httpRequest(port: api.port, "POST", volumes, body: Array(
            #"{"name":"\#(name)","capacity_bytes":1048576}"#.utf8))
        #expect(created.status == 201, "\(created.text)")
        func resize(_ volume: String, _ body: String) async throws -> HTTPTestResponse {
            try await httpRequest(port: api.port, "POST", "\(volumes)/\(volume)/resize", body: Array(body.utf8))
        }
        let shrink = try await resize(name, #"{"capacity_bytes":1024}"#)
        #expect(shrink.status == 422, "\(shrink.text)")
        let errors = try shrink.json()["errors"] as? [[String: Any]]
        #expect(errors?.first?["pointer"] as? String == "/capacity_bytes")
        let tooBig = try await resize(name, #"{"capacity_bytes":99999999999999999999}"#)
        #expect(tooBig.status == 422, "\(tooBig.text)")
        let notJSON = try await resize(name, "{")
        #expect(notJSON.status == 400, "\(notJSON.text)")
        let missing = try await resize("nope", #"{"capacity_bytes":2097152}"#)
        #expect(missing.status == 404)
        #expect(try missing.json()["type"] as? String == "https://virthost.dev/problems/storage-volume-not-found")
        let unsupported = try await resize(name, #"{"capacity_bytes":2097152}"#)
        #expect(unsupported.status == 501, "\(unsupported.text)")
        let same = try await httpRequest(port: api.port, "\(volumes)/\(name)")
        #expect(try same.json()["capacity_bytes"] as? Int == 1_048_576)
    }
}
