import Foundation
import GuestConfig
import Libvirt
import Testing
import TestSupport
@testable import VirtHost

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
            // The service's own strict reader (Foundation's XMLDocument leaks each parse).
            let devices = try #require(try XMLTree(xml, root: "domain").root.child("devices"))
            disks = [:]
            for disk in devices.children("disk") {
                let target = disk.child("target")?.attribute("dev") ?? "?"
                let source = disk.child("source")
                disks[target] = ["file", "dev", "name"].lazy.compactMap { source?.attribute($0) }.first ?? ""
            }
            macs = Set(devices.children("interface").compactMap { $0.child("mac")?.attribute("address") })
            hostdevs = Set(devices.children("hostdev").compactMap { $0.at("source", "address") }.map { address in
                ["domain", "bus", "slot", "function"].map { address.attribute($0) ?? "" }.joined(separator: ":")
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
