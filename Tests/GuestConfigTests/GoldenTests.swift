import Foundation
import GuestConfig
import Testing
import TestSupport

/// Representative specs and the domain XML each must render to, byte for byte
/// (`Golden/<name>.json` → `Golden/<name>.xml`). `VIRTHOST_UPDATE_GOLDEN=1` rewrites the XML
/// files from the current output, for review in the diff; the run then fails so a rewrite
/// can never pass unnoticed.
@Suite(.paced) struct GoldenTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Golden specs keep their disks under this root.
    static let policy = ValidationPolicy(allowedDiskRoots: ["/var/lib/libvirt/images", "/dev/disk"], resolve: { $0 })

    static func render(_ name: String) throws -> String {
        let json = try Data(contentsOf: directory.appendingPathComponent("\(name).json"))
        let spec = try GuestSpec.parse(json: json)
        return GuestXML.xml(try GuestDefinition(spec, policy: policy))
    }

    @Test func thereAreAtLeastADozen() {
        #expect(Self.names.count >= 12)
    }

    @Test(arguments: GoldenTests.names)
    func rendersExactlyTheGoldenXML(name: String) throws {
        let xml = try Self.render(name)
        let file = Self.directory.appendingPathComponent("\(name).xml")
        if ProcessInfo.processInfo.environment["VIRTHOST_UPDATE_GOLDEN"] == "1" {
            try xml.write(to: file, atomically: true, encoding: .utf8)
            Issue.record("rewrote \(file.lastPathComponent); review the diff and run again without VIRTHOST_UPDATE_GOLDEN")
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(xml == expected)
    }

    @Test(arguments: GoldenTests.names)
    func renderingIsDeterministic(name: String) throws {
        #expect(try Self.render(name) == (try Self.render(name)))
    }
}
