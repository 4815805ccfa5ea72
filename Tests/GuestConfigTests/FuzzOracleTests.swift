import Foundation
import GuestConfig
import GuestSpecOracle
import Testing
import TestSupport

/// The fuzzer's oracle (`Fuzz/GuestSpecOracle`) in the normal suite: every committed seed and
/// golden spec meets it, with the outcome its name promises; and the oracle catches each kind
/// of fault it exists to catch, so a fuzzing run that finds nothing means something.
@Suite(.paced) struct FuzzOracleTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let seeds = repository.appendingPathComponent("Fuzz/seeds")

    static var seedNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: seeds.path)) ?? []).sorted()
    }

    @Test func thereAreSeedsOfBothKinds() {
        #expect(Self.seedNames.filter { $0.hasPrefix("render-") }.count >= 5)
        #expect(Self.seedNames.filter { $0.hasPrefix("refuse-") }.count >= 10)
        #expect(Self.seedNames.allSatisfy { $0.hasPrefix("render-") || $0.hasPrefix("refuse-") })
    }

    /// `render-…` seeds render at least one document beyond the escaping probe (a domain, a
    /// create request's domain, or a hot-plug device); `refuse-…` seeds render nothing and
    /// come back with field errors.
    @Test(arguments: FuzzOracleTests.seedNames)
    func seedMeetsTheOracle(name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Self.seeds.appendingPathComponent(name)))
        let outcome = try GuestSpecOracle.check(bytes)
        if name.hasPrefix("render-") {
            #expect(outcome.documentsChecked > 1)
        } else {
            #expect(outcome.documentsChecked == 1)
            #expect(!outcome.rendered && !outcome.fieldErrors.isEmpty)
        }
    }

    @Test(arguments: GoldenTests.names)
    func goldenSpecMeetsTheOracle(name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: GoldenTests.directory.appendingPathComponent("\(name).json")))
        let outcome = try GuestSpecOracle.check(bytes)
        #expect(outcome.rendered, "\(outcome.fieldErrors)")
    }

    // MARK: The oracle catches faults

    static func definition(_ json: String) throws -> GuestDefinition {
        try GuestDefinition(try GuestSpec.parse(json: Data(json.utf8)), policy: GuestSpecOracle.policy)
    }

    static let twoDisks = #"""
        {"name":"o","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":64,"metadata":{"k'":"v"},
         "disks":[{"source":"/var/lib/libvirt/images/a"},{"source":"/var/lib/libvirt/images/b","serial":"s 1"}],
         "interfaces":[{"type":"bridge","source":"br0"}]}
        """#

    /// The shape check on its own (without the comparison with the builders' tree) refuses a
    /// document with a fault of each kind.
    @Test(arguments: [
        ("an injected disk", "</devices>", "<disk type='file' device='disk'/></devices>", "3 × domain/devices/disk"),
        ("an element the renderer never writes", "</devices>", "<script/></devices>", "not one the renderer writes"),
        ("an unescaped quote", "key='k&apos;'", "key='k''", "not well-formed"),
        ("an unclosed element", "</devices>", "<disk></devices>", "not well-formed"),
        ("a string moved out of its element", "<name>o</name>", "<name>o</name><name>x</name>", "domain/name"),
        ("a string changed", "/var/lib/libvirt/images/a", "/var/lib/libvirt/images/../a", "domain/devices/disk[0]/source"),
        ("a comment", "</devices>", "<!-- --></devices>", "nodes the renderer never writes"),
        ("a second root", "</domain>\n", "</domain>\n<domain/>", "not well-formed"),
    ])
    func aFaultyDocumentIsCaught(fault: String, find: String, replace: String, expected: String) throws {
        let definition = try Self.definition(Self.twoDisks)
        let good = GuestXML.xml(definition)
        try GuestSpecOracle.checkShape(ofDomainXML: good, for: definition)
        #expect(good.contains(find), "the fixture must contain \(find)")
        let bad = good.replacingOccurrences(of: find, with: replace)
        do {
            try GuestSpecOracle.checkShape(ofDomainXML: bad, for: definition)
            Issue.record("\(fault) passed the oracle")
        } catch {
            #expect(error.description.contains(expected), "\(fault): \(error)")
        }
    }

    /// A builder that drops a device, and a serialiser that leaves markup unescaped, are caught.
    @Test func aBuilderOrSerialiserFaultIsCaught() throws {
        let definition = try Self.definition(Self.twoDisks)
        var tree = GuestXML.config(definition)
        let devices = try #require(tree.children.firstIndex { $0.name == "devices" })
        tree.children[devices].children.removeAll { $0.name == "interface" }
        #expect(throws: GuestSpecOracle.Violation.self) {
            try GuestSpecOracle.checkShape(ofDomainXML: tree.serialized(), for: definition)
        }

        let probe = Element("probe", [("value", "a'b")], text: "<x/>")
        let unescaped = "<probe value='a'b'>&lt;x/&gt;</probe>"
        let raw = "<probe value='a&apos;b'><x/></probe>"
        try GuestSpecOracle.matches(try StrictXML.parse(probe.serialized()), probe, at: "probe")
        #expect(throws: StrictXML.NotWellFormed.self) { try StrictXML.parse(unescaped) }
        #expect(throws: GuestSpecOracle.Violation.self) {
            try GuestSpecOracle.matches(try StrictXML.parse(raw), probe, at: "probe")
        }
    }

    /// libxml2's strict parser, not Foundation's recovering one: each of these is refused.
    @Test(arguments: ["<a><b></a>", "<a>&e;</a>", "<a>\u{1}</a>", "<a x='1' x='2'/>", "<a>]]></a>", "<a/><b/>",
                      "<a>\u{FFFE}</a>", "<a>x</a>trailing", "<a"])
    func strictParsingRefusesWhatIsNotWellFormed(xml: String) {
        #expect(throws: StrictXML.NotWellFormed.self) { try StrictXML.parse(xml) }
    }
}
