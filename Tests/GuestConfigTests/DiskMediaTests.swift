@testable import GuestConfig
import Testing
import TestSupport

/// A CD-ROM's medium: the request read and checked, the drive's element changed in its source
/// only, and an empty drive rendered with no source at all.
@Suite(.paced) struct DiskMediaTests {
    /// A drive as libvirt's live XML has it: alias, address and a backing chain included.
    static let drive = Element("disk", [("type", "file"), ("device", "cdrom")]) {
        Element("driver", [("name", "qemu"), ("type", "raw")])
        Element("source", [("file", "/isos/old.iso"), ("index", "1")])
        Element("backingStore")
        Element("target", [("dev", "sda"), ("bus", "sata")])
        Element("readonly")
        Element("alias", [("name", "sata0-0-0")])
        Element("address", [("type", "drive"), ("controller", "0"), ("bus", "0"), ("target", "0"), ("unit", "0")])
    }

    @Test func aPathReplacesTheSourceAndKeepsEverythingElse() throws {
        let media = try DiskMedia.read(json: Array(#"{"source":"/isos/new & shiny.iso"}"#.utf8), policy: nil)
        let changed = media.inserted(into: Self.drive)
        #expect(changed.children.map(\.name) == ["driver", "source", "target", "readonly", "alias", "address"])
        #expect(changed.children[1] == Element("source", [("file", "/isos/new & shiny.iso")]))
        #expect(changed.attributes.map(\.1) == ["file", "cdrom"])
        #expect(changed.serialized().contains("file='/isos/new &amp; shiny.iso'"), "escaped, never concatenated")
    }

    @Test func aVolumeMakesItAVolumeDrive() throws {
        let media = try DiskMedia.read(json: Array(#"{"source":{"pool":"isos","volume":"debian.iso"}}"#.utf8), policy: nil)
        let changed = media.inserted(into: Self.drive)
        #expect(changed.attributes.first { $0.0 == "type" }?.1 == "volume")
        #expect(changed.children[1] == Element("source", [("pool", "isos"), ("volume", "debian.iso")]))
    }

    @Test func ejectingLeavesAnEmptyFileDrive() {
        var volumeDrive = Self.drive
        volumeDrive.attributes = [("type", "volume"), ("device", "cdrom")]
        let ejected = DiskMedia.ejected(from: volumeDrive)
        #expect(!ejected.children.contains { $0.name == "source" || $0.name == "backingStore" })
        #expect(ejected.attributes.map(\.1) == ["file", "cdrom"])
        #expect(ejected.children.contains { $0.name == "target" })
    }

    @Test func badRequestsAreFieldErrorsAtTheirField() {
        func pointers(_ json: String, policy: ValidationPolicy? = nil) -> [String] {
            do {
                _ = try DiskMedia.read(json: Array(json.utf8), policy: policy)
                return []
            } catch { return error.errors.map(\.pointer) }
        }
        #expect(pointers("{}") == ["/source"])
        #expect(pointers(#"{"source":null}"#) == ["/source"])
        #expect(pointers(#"{"source":"isos/a.iso"}"#) == ["/source"])
        #expect(pointers(#"{"source":{"pool":"isos"}}"#) == ["/source/volume"])
        #expect(pointers(#"{"source":"/etc/a.iso"}"#, policy: ValidationPolicy(allowedDiskRoots: ["/isos"])) == ["/source"])
        #expect(pointers(#"{"source":"/isos/a.iso"}"#, policy: ValidationPolicy(allowedDiskRoots: ["/isos"])) == [])
        #expect(pointers(#"{"source":"/isos/a.iso","force":true}"#) == ["/force"])
    }

    @Test func aCDROMMayBeEmptyAndRendersWithNoSource() throws {
        let spec = try GuestSpec.parse(json: Array(#"""
            {"name":"g","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":64,"disks":[{"device":"cdrom"}]}
            """#.utf8))
        let xml = GuestXML.xml(try GuestDefinition(spec))
        let compact = xml.split(separator: "\n").map { $0.trimmingPrefix(while: { $0 == " " }) }.joined()
        #expect(compact.contains("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sda' bus='sata'/><readonly/></disk>"), "\(xml)")
        // Any other disk, and a CD-ROM of another type, still needs its source.
        for disk in [#"{"device":"disk"}"#, #"{}"#, #"{"device":"cdrom","type":"block"}"#, #"{"device":"cdrom","type":"volume"}"#] {
            let other = try GuestSpec.parse(json: Array(#"""
                {"name":"g","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":64,"disks":[\#(disk)]}
                """#.utf8))
            #expect(throws: GuestSpecError.self, "\(disk)") { try GuestDefinition(other) }
        }
    }
}
