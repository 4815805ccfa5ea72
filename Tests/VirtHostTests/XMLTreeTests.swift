import Testing
import TestSupport
@testable import VirtHost

/// The service's own reader of libvirt's XML.
@Suite(.paced) struct XMLTreeTests {
    @Test func readsElementsAttributesTextAndReferences() throws {
        let tree = try XMLTree("""
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE domain>
            <!-- a comment before the root -->
            <domain type='kvm' id="7">
              <name>web&amp;1 &lt;x&gt; &quot;q&quot; &apos;a&apos; &#233;&#x263A;</name>
              <description><![CDATA[<not> an & element]]></description>
              <devices>
                <disk type='file'><target dev='vda' bus="virtio"/></disk>
                <!-- between -->
                <disk type='block'><target dev='vdb'/></disk>
                <?pi ignored?>
              </devices>
            </domain>
            """, root: "domain")
        let root = tree.root
        #expect(root.name == "domain")
        #expect(root.attribute("type") == "kvm" && root.attribute("id") == "7" && root.attribute("nope") == nil)
        #expect(root.childText("name") == "web&1 <x> \"q\" 'a' é☺")
        #expect(root.childText("description") == "<not> an & element")
        #expect(root.at("devices")?.children("disk").compactMap { $0.child("target")?.attribute("dev") } == ["vda", "vdb"])
        #expect(root.child("devices")?.childElements.count == 2)
    }

    @Test func writesAnElementBackEscaped() throws {
        let tree = try XMLTree(#"<domain><devices><interface type="bridge"><mac address="52:54:00:00:00:01"/><source bridge="br&amp;0"/><alias name='a"b'/><model>v&lt;1</model></interface></devices></domain>"#, root: "domain")
        let interface = try #require(tree.root.at("devices", "interface"))
        #expect(interface.xmlString == #"<interface type="bridge"><mac address="52:54:00:00:00:01"/><source bridge="br&amp;0"/><alias name="a&quot;b"/><model>v&lt;1</model></interface>"#)
        // What it writes reads back the same.
        let again = try XMLTree(interface.xmlString, root: "interface").root
        #expect(again.child("alias")?.attribute("name") == "a\"b" && again.childText("model") == "v<1")
    }

    @Test(arguments: [
        "", "<domain>", "<domain></dom>", "<domain a=1/>", "<domain a='1/>", "<domain>&bogus;</domain>",
        "<domain/><second/>", "text", "<domain><![CDATA[open</domain>",
        String(repeating: "<a>", count: 300) + String(repeating: "</a>", count: 300),
    ])
    func malformedDocumentsAreErrorsNotCrashes(xml: String) {
        #expect(throws: XMLTree.ParseError.self) { try XMLTree(xml, root: "domain") }
    }

    @Test func theRootMustBeTheOneAskedFor() {
        #expect(throws: XMLTree.ParseError.self) { try XMLTree("<capabilities/>", root: "domain") }
    }
}
