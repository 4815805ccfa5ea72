import Foundation
import Testing
import TestSupport

/// Volume content on libvirt's test driver: what is refused before a byte moves, and an upload
/// the driver cannot do leaves nothing behind. The transfers themselves are tested on the real
/// libvirtd (RealLibvirtdStorageContentTests).
@Suite(.paced) struct StorageContentEndpointTests {
    static let base = "/v1/storage/pools/default-pool/volumes"

    func volumeNames(_ api: APITestServer) async throws -> [String] {
        let list = try await httpRequest(port: api.port, Self.base)
        return (try list.json()["volumes"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test func badParametersAndMissingObjectsAreRefusedWithProblems() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        let body = Array("data".utf8)
        let format = try await httpRequest(port: api.port, "PUT", "\(Self.base)/new.img/content?format=vmdk",
                                           headers: [("Content-Type", "application/octet-stream")], body: body)
        #expect(format.status == 400, "\(format.text)")
        #expect(try format.json()["parameter"] as? String == "format")
        let overwrite = try await httpRequest(port: api.port, "PUT", "\(Self.base)/new.img/content?overwrite=maybe",
                                              headers: [("Content-Type", "application/octet-stream")], body: body)
        #expect(overwrite.status == 400)
        #expect(try overwrite.json()["parameter"] as? String == "overwrite")
        let pool = try await httpRequest(port: api.port, "PUT", "/v1/storage/pools/nonesuch/volumes/a/content",
                                         headers: [("Content-Type", "application/octet-stream")], body: body)
        #expect(pool.status == 404)
        #expect(try pool.json()["type"] as? String == "https://virthost.dev/problems/storage-pool-not-found")
        let name = try await httpRequest(port: api.port, "\(Self.base)/%2E%2E/content")
        #expect(name.status == 400)
        #expect(try name.json()["parameter"] as? String == "volume")
        let missing = try await httpRequest(port: api.port, "\(Self.base)/nonesuch/content")
        #expect(missing.status == 404)
        #expect(try missing.json()["type"] as? String == "https://virthost.dev/problems/storage-volume-not-found")
    }

    @Test func anUploadTheDriverCannotDoLeavesNoVolume() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        // test:///default is one state in the process, shared with the suites that run alongside.
        let name = "upload-\(UUID().uuidString.prefix(8).lowercased()).img"
        let upload = try await httpRequest(port: api.port, "PUT", "\(Self.base)/\(name)/content",
                                           headers: [("Content-Type", "application/octet-stream")],
                                           body: [UInt8](repeating: 7, count: 100_000))
        #expect(upload.status >= 400, "\(upload.text)")
        #expect(upload.headers["content-type"] == "application/problem+json")
        let names = try await volumeNames(api)
        #expect(!names.contains(name) && !names.contains { $0.hasPrefix(".upload-") }, "left: \(names)")
    }
}
