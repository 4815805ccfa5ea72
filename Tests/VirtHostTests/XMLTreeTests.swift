import Foundation
import Testing
@testable import VirtHost

/// libvirt's documents read through libxml2: the parts the service reads, a device handed
/// back as XML, and a broken document refused (FoundationXML, used before, parsed in recovery
/// mode and leaked every document).
@Suite struct XMLTreeTests {
    static let domain = """
        <domain type='kvm'>
          <name>d</name>
          <os><type arch='x86_64' machine='q35'>hvm</type></os>
          <metadata><v:guest xmlns:v='https://virthost.dev/xmlns/guest/1.0'><v:entry key='k'>a &amp; b</v:entry></v:guest></metadata>
          <devices>
            <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/images/a&apos;b.qcow2'/><target dev='vda' bus='virtio'/></disk>
            <interface type='bridge'><mac address='52:54:00:AB:CD:EF'/><source bridge='br0'/><model type='virtio'/></interface>
            <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x81' slot='0x00' function='0x1'/></source></hostdev>
          </devices>
        </domain>
        """

    @Test func readsTheDomainsParts() throws {
        let description = try DomainDescription(xml: Self.domain)
        #expect(description.os.arch == "x86_64" && description.os.machine == "q35" && description.os.type == "hvm")
        #expect(description.disks.map(\.source) == ["/images/a'b.qcow2"])
        #expect(description.disks.map(\.target) == ["vda"])
        #expect(description.interfaces.map(\.mac) == ["52:54:00:AB:CD:EF"])
        let root = try XMLTree(Self.domain, root: "domain").root
        let entry = root.at("metadata", "v:guest", "v:entry")
        #expect(entry?.attribute("key") == "k" && entry?.text == "a & b")
        #expect(root.childElements.map(\.name) == ["name", "os", "metadata", "devices"])
    }

    @Test(arguments: [("vda", "disk"), ("52:54:00:ab:cd:ef", "interface"), ("0000:81:00.1", "hostdev")])
    func aDeviceComesBackAsItsOwnXML(identifier: String, element: String) throws {
        let xml = try #require(try DomainDescription.deviceXML(in: Self.domain, identifier: identifier))
        let device = try XMLTree(xml, root: element).root
        let original = try #require(try XMLTree(Self.domain, root: "domain").root.child("devices")?.child(element))
        #expect(device.xmlString == original.xmlString)
        #expect(device.childElements.map(\.name) == original.childElements.map(\.name))
        #expect(try DomainDescription.deviceXML(in: Self.domain, identifier: "vdz") == nil)
    }

    @Test(arguments: ["<domain><devices></domain>", "<domain>&nbsp;</domain>", "<domain/><domain/>", "", "<capabilities/>"])
    func aBrokenOrForeignDocumentIsRefused(xml: String) {
        #expect(throws: XMLTree.ParseError.self) { try XMLTree(xml, root: "domain") }
    }
}
