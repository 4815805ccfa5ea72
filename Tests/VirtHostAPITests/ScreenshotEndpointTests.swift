import Foundation
import Testing
import TestSupport

/// `GET /v1/domains/{ref}/screenshot` on a private test driver (whose screenshot is a PNG of
/// its own), and the PNG check every screenshot test decodes with.
@Suite(.paced) struct ScreenshotEndpointTests {
    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/png_check.py").path

    /// Width, height and distinct colours of a PNG, decoded by `png_check.py` (zlib only).
    static func decode(_ png: [UInt8]) throws -> (width: Int, height: Int, colours: Int) {
        let path = NSTemporaryDirectory() + "screenshot-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(png).write(to: URL(fileURLWithPath: path))
        let output = try run("python3", [checker, path])
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Int])
        return (fields["width"] ?? 0, fields["height"] ?? 0, fields["colours"] ?? 0)
    }

    @Test func aRunningDomainsDisplayIsAPNG() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let shot = try await httpRequest(port: api.port, "/v1/domains/test/screenshot")
        #expect(shot.status == 200, "\(shot.text)")
        #expect(shot.headers["content-type"] == "image/png")
        #expect(shot.headers["cache-control"] == "no-store")
        let image = try Self.decode(shot.body)
        #expect(image.width > 0 && image.height > 0)

        _ = try await httpRequest(port: api.port, "POST", "/v1/domains/test/destroy")
        let stopped = try await httpRequest(port: api.port, "/v1/domains/test/screenshot")
        #expect(stopped.status == 409, "\(stopped.text)")
        #expect(try stopped.json()["state"] as? String == "shutoff")
        await api.stop()
    }
}
