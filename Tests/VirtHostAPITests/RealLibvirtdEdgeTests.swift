import Foundation
import GuestConfig
import Libvirt
import Testing
import TestSupport
@testable import VirtHost

/// The edges of libvirt's rules that validation lets through (issue 22) are ones the real
/// libvirtd takes at define, with its schema check and QEMU's own checks: a spec the service
/// accepts is one libvirt accepts.
extension RealLibvirtdTests {
    static let edgeSeed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/seeds/render-libvirt-edges.json")

    @Test func theEdgesOfLibvirtsRulesAreDefinedByLibvirtd() async throws {
        var spec = try GuestSpec.parse(json: try Data(contentsOf: Self.edgeSeed))
        spec.name = "virthost-edges-\(UInt32.random(in: 0...UInt32.max))"
        spec.uuid = UUID().uuidString.lowercased()
        spec.virtType = RealLibvirtd.virtType
        let definition = try GuestDefinition(spec)
        let xml = GuestXML.xml(definition)
        for edge in ["<boot order='4294967295'/>", "<stats period='2147483647'/>",
                     "<read_bytes_sec>1000000000000000</read_bytes_sec>", "<host name='fe80::1'/>"] {
            #expect(xml.contains(edge), "the seed no longer renders \(edge)")
        }
        let uri = self.uri
        try await onOwnThread {
            let connection = try Connection(uri: uri)
            let domain = try connection.defineDomain(xml: xml, flags: [.validate])
            try domain.undefine()
        }
    }
}
