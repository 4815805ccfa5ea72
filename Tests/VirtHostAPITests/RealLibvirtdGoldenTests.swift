import Foundation
import GuestConfig
import Libvirt
import Testing
import TestSupport
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Every golden spec's XML is accepted by the real libvirtd with its schema check
/// (`VIR_DOMAIN_DEFINE_VALIDATE`) and reads back with the same devices.
extension RealLibvirtdTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("GuestConfigTests/Golden")

    /// The devices that identify a domain's shape: disk targets and sources, interface MACs,
    /// passed-through PCI addresses.
    struct Devices: Equatable {
        var disks: [String: String]
        var macs: Set<String>
        var hostdevs: Set<String>

        init(xml: String) throws {
            let root = try #require(try XMLDocument(xmlString: xml, options: []).rootElement())
            func elements(_ path: String) throws -> [XMLElement] {
                try root.nodes(forXPath: path).compactMap { $0 as? XMLElement }
            }
            func attribute(_ element: XMLElement, _ path: String, _ name: String) throws -> String? {
                (try element.nodes(forXPath: path).first as? XMLElement)?.attribute(forName: name)?.stringValue
            }
            disks = [:]
            for disk in try elements("/domain/devices/disk") {
                let target = try attribute(disk, "target", "dev") ?? "?"
                let source = try disk.nodes(forXPath: "source").first as? XMLElement
                disks[target] = ["file", "dev", "name"].lazy.compactMap { source?.attribute(forName: $0)?.stringValue }
                    .first ?? ""
            }
            macs = Set(try elements("/domain/devices/interface/mac").compactMap { $0.attribute(forName: "address")?.stringValue })
            hostdevs = Set(try elements("/domain/devices/hostdev/source/address").map { address in
                ["domain", "bus", "slot", "function"].map { address.attribute(forName: $0)?.stringValue ?? "" }
                    .joined(separator: ":")
            })
        }
    }

    @Test func everyGoldenDomainIsAcceptedByLibvirtsSchemaCheck() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.goldenDirectory.path)
            .filter { $0.hasSuffix(".xml") }.sorted()
        #expect(names.count >= 12)
        let imageDirectory = "/var/lib/libvirt/images/virthost-golden"
        try FileManager.default.createDirectory(atPath: imageDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: imageDirectory) }
        let uri = self.uri

        try await onOwnThread {
            let connection = try Connection(uri: uri)
            for name in names {
                let xml = try String(contentsOf: Self.goldenDirectory.appendingPathComponent(name), encoding: .utf8)
                let expected = try Devices(xml: xml)
                // The disk files the spec names, made real.
                for path in expected.disks.values where path.hasPrefix(imageDirectory) {
                    let format = path.hasSuffix(".qcow2") ? "qcow2" : "raw"
                    _ = try run("qemu-img", ["create", "-q", "-f", format, path, "64M"])
                }
                let domain: Domain
                do {
                    domain = try connection.defineDomain(xml: xml, flags: [.validate])
                } catch {
                    Issue.record("\(name) was refused: \(error)")
                    continue
                }
                defer { try? domain.undefine([.nvram]) }
                let readBack = try Devices(xml: try domain.xml([.inactive]))
                #expect(readBack == expected, "\(name) reads back with other devices")
            }
        }
    }
}
