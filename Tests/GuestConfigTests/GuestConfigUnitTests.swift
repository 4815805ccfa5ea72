import Foundation
@testable import GuestConfig
import GuestSpecOracle
import Testing
import TestSupport

/// The builders one by one, defaults, and what no input may do to the XML.
@Suite(.paced) struct GuestConfigUnitTests {
    func definition(_ json: String) throws -> GuestDefinition {
        try GuestDefinition(try GuestSpec.parse(json: Data(json.utf8)))
    }

    /// `os.serial_bios` puts SeaBIOS's output on the serial console; off by default.
    @Test func serialBiosRendersUseSerial() throws {
        #expect(GuestXML.xml(try definition(#"{"name":"a","memory_mb":1,"os":{"serial_bios":true}}"#))
            .contains("<bios useserial='yes'/>"))
        #expect(!GuestXML.xml(try definition(#"{"name":"a","memory_mb":1}"#)).contains("<bios"))
        #expect(GuestXML.xml(try definition(#"{"name":"a","memory_mb":1,"os":{"boot_menu":true}}"#))
            .contains("<bootmenu enable='yes' timeout='3000'/>"))
        #expect(throws: (any Error).self) { try definition(#"{"name":"a","memory_mb":1,"os":{"serial_bios":"yes"}}"#) }
    }

    @Test func topologyIsDerivedPreferringSockets() throws {
        let topology = try definition(#"{"name":"a","memory_mb":1,"vcpus":6}"#).topology
        #expect((topology.sockets, topology.cores, topology.threads) == (6, 1, 1))
    }

    @Test func defaultsFollowVirtInstallAndNova() throws {
        let guest = try definition(#"{"name":"a","memory_mb":1}"#)
        #expect(guest.arch == "x86_64" && guest.machine == "q35" && guest.virtType == "kvm")
        #expect(guest.firmware == "bios" && guest.cpuMode == "host-model")
        #expect(GuestDefinition.isValidUUID(guest.uuid))
        #expect(try definition(#"{"name":"a","memory_mb":1,"cpu":{"model":"Haswell"}}"#).cpuMode == "custom")
    }

    @Test func targetsAreAssignedPerBusAroundFixedOnes() throws {
        let guest = try definition(#"""
            {"name":"a","memory_mb":1,"storage":{"root":{"source":"/r"},"config_drive":{"source":"/c"},
             "volumes":[{"source":"/v","bus":"scsi"}]},
             "disks":[{"source":"/d","target":"vda"},{"source":"/e","bus":"scsi"},{"source":"/f","bus":"ide","device":"cdrom"}]}
            """#)
        #expect(guest.disks.map(\.target) == ["vdb", "sda", "sdb", "vda", "sdc", "hda"])
        #expect(guest.disks.map(\.pointer) == ["/storage/root", "/storage/volumes/0", "/storage/config_drive",
                                                "/disks/0", "/disks/1", "/disks/2"])
        #expect(guest.disks[2].device == "cdrom" && guest.disks[2].bus == "sata" && guest.disks[2].spec.readonly)
    }

    @Test func targetNamesGoOnPastZ() {
        #expect(StorageConfig.name(prefix: "vd", index: 0) == "vda")
        #expect(StorageConfig.name(prefix: "vd", index: 25) == "vdz")
        #expect(StorageConfig.name(prefix: "vd", index: 26) == "vdaa")
        #expect(StorageConfig.name(prefix: "sd", index: 27) == "sdab")
    }

    @Test func scsiDisksBringAVirtioSCSIController() throws {
        let xml = GuestXML.xml(try definition(#"{"name":"a","memory_mb":1,"disks":[{"source":"/a","bus":"scsi"}]}"#))
        #expect(xml.contains("<controller type='scsi' index='0' model='virtio-scsi'/>"))
        let none = GuestXML.xml(try definition(#"{"name":"a","memory_mb":1,"disks":[{"source":"/a"}]}"#))
        #expect(!none.contains("<controller"))
    }

    @Test func generatedMACsAreStableAndInQEMUsRange() throws {
        let json = #"{"name":"a","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":1,"interfaces":[{},{}]}"#
        let macs = try definition(json).macs
        #expect(macs == (try definition(json).macs))
        #expect(macs.allSatisfy { $0.hasPrefix("52:54:00:") && GuestDefinition.isValidMAC($0) })
        #expect(Set(macs).count == 2)
    }

    @Test func pciAddressesSplitIntoTheirParts() throws {
        let parts = try #require(PCIDeviceSpec(address: "0000:81:1f.7").parts)
        #expect(parts.domain == 0 && parts.bus == 0x81 && parts.slot == 0x1f && parts.function == 7)
        let element = try #require(PCIDeviceConfig.hostdev(PCIDeviceSpec(address: "0000:81:1f.7", managed: false)))
        #expect(element.serialized() == """
            <hostdev mode='subsystem' type='pci' managed='no'>
              <source>
                <address domain='0x0000' bus='0x81' slot='0x1f' function='0x7'/>
              </source>
            </hostdev>

            """)
    }

    @Test func sysinfoDefaultsItsSerialToTheUUID() throws {
        let guest = try definition(#"{"name":"a","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":1}"#)
        let xml = SysinfoConfig.sysinfo(guest).serialized()
        #expect(xml.contains("<entry name='serial'>6695eb01-f6a4-8304-79aa-97f2502e193f</entry>"))
        #expect(xml.contains("<entry name='family'>Virtual Machine</entry>"))
        #expect(GuestXML.xml(guest).contains("<smbios mode='sysinfo'/>"))
    }

    @Test func escapingCoversMarkupQuotesAndControls() {
        #expect(Element.escape("a<b&c>d", attribute: false) == "a&lt;b&amp;c&gt;d")
        #expect(Element.escape("'\"", attribute: true) == "&apos;&quot;")
        #expect(Element.escape("]]>", attribute: false) == "]]&gt;")
        #expect(Element.escape("x\u{1}y\u{1F}z", attribute: false) == "x\u{FFFD}y\u{FFFD}z")
        #expect(Element.escape("a\nb", attribute: true) == "a&#10;b")
        #expect(Element.escape("a\u{FFFE}b\u{FFFF}c\u{FFFD}\u{F000}\u{EFBF}", attribute: false)
                == "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{F000}\u{EFBF}")
        #expect(Element.escape("\t\r\n", attribute: false) == "\t&#13;\n")
        #expect(Element.escape("\t\r\n", attribute: true) == "&#9;&#13;&#10;")
    }

    /// The format checks read ASCII byte by byte; they must answer as the general,
    /// Character-wise checks do, for near misses and for non-ASCII look-alikes.
    @Test func formatChecksMatchTheirGeneralForm() {
        func uuid(_ text: String) -> Bool {
            let groups = text.split(separator: "-", omittingEmptySubsequences: false)
            return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
        }
        func mac(_ text: String) -> Bool {
            let octets = text.split(separator: ":", omittingEmptySubsequences: false)
            guard octets.count == 6, octets.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }),
                  let first = UInt8(octets[0], radix: 16) else { return false }
            return first & 1 == 0
        }
        func name(_ text: String) -> Bool {
            (1...64).contains(text.count) && text.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
            }
        }
        func pci(_ address: String) -> [Int]? {
            let pieces = address.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count == 3, pieces[0].count == 4, pieces[1].count == 2 else { return nil }
            let slotFunction = pieces[2].split(separator: ".", omittingEmptySubsequences: false)
            guard slotFunction.count == 2, slotFunction[0].count == 2, slotFunction[1].count == 1,
                  let domain = Int(pieces[0], radix: 16), let bus = Int(pieces[1], radix: 16),
                  let slot = Int(slotFunction[0], radix: 16), let function = Int(slotFunction[1], radix: 16),
                  slot < 32, function < 8,
                  (pieces.prefix(2) + slotFunction).allSatisfy({ $0.allSatisfy(\.isHexDigit) })
            else { return nil }
            return [domain, bus, slot, function]
        }
        let alphabet = ["0", "9", "a", "f", "g", "A", "F", "G", "-", ":", ".", "1", "7", "_", "/", " ", "\u{FF10}", "é", "\r\n"]
        var samples = ["6695eb01-f6a4-8304-79aa-97f2502e193f", "6695EB01-F6A4-8304-79AA-97F2502E193F",
                       "6695eb01-f6a4-8304-79aa-97f2502e193", "6695eb01f6a4-8304-79aa-97f2502e193ff",
                       "\u{FF16}695eb01-f6a4-8304-79aa-97f2502e193f", "52:54:00:12:34:56", "53:54:00:12:34:56",
                       "52:54:00:12:34:5", "52-54-00-12-34-56", "５2:54:00:12:34:56", "/a/../b", "/a/..", "/..", "/a/...",
                       "/a/..b/", "../x", "/a//..//b", "web-01", "web_01.x", "", String(repeating: "a", count: 65)]
        var state: UInt64 = 7
        for _ in 0..<3000 {
            var text = ""
            for _ in 0..<Int(state % 40) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                text += alphabet[Int((state >> 33) % UInt64(alphabet.count))]
            }
            state = state &* 6364136223846793005 &+ 1442695040888963407
            samples.append(text)
        }
        // Mutations of valid values, so near misses are common.
        samples += ["0000:81:00.1", "FFFF:ff:1f.7", "0000:81:20.0", "0000:81:00.8", "0000:81:00:1", "+000:81:00.1",
                    "0000:81:0.01", "0000:8g:00.1", "0000:81:00.１"]
        for valid in ["6695eb01-f6a4-8304-79aa-97f2502e193f", "52:54:00:12:34:56", "0000:81:1f.7"] {
            for index in 0..<valid.count {
                for replacement in ["0", "g", "-", ":", "\u{FF10}", ""] {
                    var text = Array(valid)
                    text.replaceSubrange(index...index, with: Array(replacement))
                    samples.append(String(text))
                }
            }
        }
        for text in samples {
            #expect(GuestDefinition.isValidUUID(text) == uuid(text), "\(text)")
            #expect(GuestDefinition.isValidMAC(text) == mac(text), "\(text)")
            #expect(GuestDefinition.isValidName(text) == name(text), "\(text)")
            let parts = PCIDeviceSpec(address: text).parts
            #expect(parts.map { [$0.domain, $0.bus, $0.slot, $0.function] } == pci(text), "\(text)")
        }
    }

    /// The escaping copies plain runs whole; it must say exactly what a byte-at-a-time
    /// escape says, for any mix of markup, controls, U+FFFE/U+FFFF and other text.
    @Test func escapingMatchesAByteAtATimeReference() {
        func reference(_ value: String, attribute: Bool) -> String {
            var output = ""
            let scalars = Array(value.unicodeScalars)
            for scalar in scalars {
                switch scalar {
                case "&": output += "&amp;"
                case "<": output += "&lt;"
                case ">": output += "&gt;"
                case "'" where attribute: output += "&apos;"
                case "\"" where attribute: output += "&quot;"
                case "\t" where attribute: output += "&#9;"
                case "\n" where attribute: output += "&#10;"
                case "\r": output += "&#13;"
                case "\t", "\n": output.unicodeScalars.append(scalar)
                case "\u{0}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}": output += "\u{FFFD}"
                default: output.unicodeScalars.append(scalar)
                }
            }
            return output
        }
        let pieces = ["a", "&", "<", ">", "'", "\"", "\t", "\n", "\r", "\u{1}", "\u{1F}", " ", "é", "日",
                      "\u{FFFE}", "\u{FFFF}", "\u{FFFD}", "\u{F000}", "\u{EFBF}", "🚀", "plain text run"]
        var state: UInt64 = 42
        for _ in 0..<2000 {
            var value = ""
            for _ in 0..<Int(state % 9) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                value += pieces[Int((state >> 33) % UInt64(pieces.count))]
            }
            state = state &* 6364136223846793005 &+ 1442695040888963407
            for attribute in [false, true] {
                #expect(Element.escape(value, attribute: attribute) == reference(value, attribute: attribute))
            }
        }
    }

    /// Hostile strings in every free-text field (the others have formats of libvirt's that
    /// admit no markup; the fuzz seeds `refuse-markup-in-formatted-fields` and the format
    /// tests cover them): the rendered document parses, and has exactly
    /// the elements a plain spec of the same shape has, with the strings intact as data.
    @Test func hostileStringsNeverChangeTheStructure() throws {
        let hostile = "x<y/>&amp;'\"]]><!--z--><![CDATA[w]]>\u{1}\u{7}\t"
        func quoted(_ text: String) throws -> String { String(decoding: try JSONEncoder().encode(text), as: UTF8.self) }
        func spec(_ text: String) throws -> String {
            let value = try quoted(text), path = try quoted("/" + text)
            // A kernel command line takes no control characters (refused, tested apart).
            let cmdline = try quoted(String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.properties.generalCategory != .control })))
            return #"""
            {"name":"a","memory_mb":1,"metadata":{\#(value):\#(value)},
             "cpu":{"mode":"custom","model":\#(value),"vendor":\#(value),"features":[{"name":"vmx"}]},
             "os":{"kernel":\#(path),"initrd":\#(path),"cmdline":\#(cmdline)},
             "sysinfo":{"manufacturer":\#(value),"product":\#(value),"version":\#(value),"serial":\#(value),"family":\#(value)},
             "disks":[{"source":\#(path),"serial":"s 1","target":"vda"},
                      {"type":"network","source":{"protocol":"rbd","name":\#(value),"hosts":[{"name":"mon"}]}}],
             "interfaces":[{"type":"network","source":\#(value),"target":"tap0","mac":"52:54:00:00:00:01",
                            "filter":{"name":"f","parameters":{"IP":"10.0.0.1"}}}],
             "graphics":{"listen":"::1"},"serial":{"log_file":\#(path)}}
            """#
        }
        func render(_ value: String) throws -> String {
            // Rendered without validation (which would refuse the control characters), to
            // prove the renderer alone keeps the structure.
            let (read, _) = GuestSpec.read(json: Data(try spec(value).utf8))
            var guest = try #require(read)
            guest.uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f"
            let definition = try GuestDefinition(guest)
            return GuestXML.xml(definition)
        }
        // libxml2's strict parser: a broken document fails here rather than being repaired.
        let plain = try StrictXML.parse(try render("plain"))
        let attacked = try StrictXML.parse(try render(hostile))
        func shape(_ element: ParsedElement) -> [String] {
            ["\(element.name)[\(element.attributes.map(\.name).joined(separator: ","))]"] + element.children.flatMap(shape)
        }
        #expect(shape(attacked) == shape(plain))
        // No comment or processing instruction got in anywhere.
        func onlyElementsAndText(_ element: ParsedElement) -> Bool {
            element.otherNodes.isEmpty && element.children.allSatisfy(onlyElementsAndText)
        }
        #expect(onlyElementsAndText(attacked))
        // The string survives as data (control characters aside, which XML cannot carry).
        let model = attacked.children.first { $0.name == "cpu" }?.children.first { $0.name == "model" }?.text
        #expect(model == "x<y/>&amp;'\"]]><!--z--><![CDATA[w]]>\u{FFFD}\u{FFFD}\t")
    }

    @Test func symlinksThatLeaveARootAreRefused() throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("virthost-roots-\(UUID())")
        let root = base.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("escape").path,
                                                   withDestinationPath: "/etc")
        let policy = ValidationPolicy(allowedDiskRoots: [root.path])
        #expect(policy.refusal(of: root.appendingPathComponent("disk.qcow2").path) == nil)
        #expect(policy.refusal(of: root.appendingPathComponent("new/dir/disk.qcow2").path) == nil)
        let escaped = policy.refusal(of: root.appendingPathComponent("escape/shadow").path)
        #expect(escaped?.contains("resolves to /etc/shadow") == true)
    }
}

/// The firewall's per-interface filter.
@Suite(.paced) struct FirewallConfigTests {
    @Test func theFilterBuildsOnCleanTrafficWithTheAllowedAddresses() {
        let name = FirewallConfig.filterName(uuid: "6695EB01-F6A4-8304-79AA-97F2502E193F", mac: "52:54:00:AB:CD:EF")
        #expect(name == "virthost-6695eb01-f6a4-8304-79aa-97f2502e193f-525400abcdef")
        #expect(FirewallConfig.ownerUUID(ofFilter: name) == "6695eb01-f6a4-8304-79aa-97f2502e193f")
        #expect(FirewallConfig.ownerUUID(ofFilter: "clean-traffic") == nil)
        let xml = FirewallConfig.filter(name: name, firewall: .init(allowedIPs: ["10.0.0.5", "10.0.0.6"], allowDHCP: true))
            .serialized()
        #expect(xml == """
            <filter name='virthost-6695eb01-f6a4-8304-79aa-97f2502e193f-525400abcdef' chain='root'>
              <filterref filter='clean-traffic'>
                <parameter name='IP' value='10.0.0.5'/>
                <parameter name='IP' value='10.0.0.6'/>
              </filterref>
              <filterref filter='allow-dhcp'/>
            </filter>

            """)
        let noDHCP = FirewallConfig.filter(name: name, firewall: .init()).serialized()
        #expect(!noDHCP.contains("allow-dhcp") && noDHCP.contains("<filterref filter='clean-traffic'/>"))
    }

    @Test func anInterfaceWithTheFirewallOnPointsAtItsFilter() throws {
        let spec = try GuestSpec.parse(json: Data(#"""
            {"name":"a","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":1,
             "interfaces":[{"type":"bridge","source":"br0","mac":"52:54:00:ab:cd:ef","firewall":{"allowed_ips":["10.0.0.5"]}},
                           {"type":"bridge","source":"br0","firewall":{"enabled":false}}]}
            """#.utf8))
        let definition = try GuestDefinition(spec)
        let xml = GuestXML.xml(definition)
        #expect(xml.contains("<filterref filter='virthost-6695eb01-f6a4-8304-79aa-97f2502e193f-525400abcdef'/>"))
        #expect(GuestXML.firewallFilters(definition).map(\.name) == ["virthost-6695eb01-f6a4-8304-79aa-97f2502e193f-525400abcdef"])
    }
}
