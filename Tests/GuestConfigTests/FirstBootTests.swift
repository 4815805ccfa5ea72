import Foundation
@testable import GuestConfig
import Testing
import TestSupport

/// First-boot data: the spec read and checked (hostile values refused with pointers), the
/// disk's files in both formats, and the CD-ROM it becomes.
@Suite(.paced) struct FirstBootTests {
    static let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN/t+RriMyqtSGozh/KnEnyqH4Jl/WTOuRVdESj6UnLC ops@example"
    static let uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f"

    /// A spec with `first_boot`, resolved as the API does (the disk on the instances pool).
    static func definition(_ firstBoot: String, machine: String? = "q35", extra: String = "") throws(GuestSpecError)
        -> GuestDefinition {
        let os = machine.map { #","os":{"machine":"\#($0)"}"# } ?? ""
        let json = #"{"name":"web_1","uuid":"\#(uuid)","memory_mb":512\#(os),"interfaces":[{"mac":"52:54:00:aa:bb:01"}],"#
            + #""first_boot":\#(firstBoot)\#(extra)}"#
        let (spec, errors) = GuestSpec.read(json: Array(json.utf8), pointer: "/spec")
        guard let spec else { throw GuestSpecError(errors) }
        return try GuestDefinition(ManagedVolumes.resolve(spec, pool: "instances"), pointer: "/spec", readErrors: errors)
    }

    static func errors(_ firstBoot: String, extra: String = "") -> [FieldError] {
        do {
            _ = try definition(firstBoot, extra: extra)
            return []
        } catch {
            return error.errors
        }
    }

    static func file(_ files: FirstBootFiles, _ path: String) -> [UInt8]? {
        files.files.first { $0.path == path }?.content
    }

    static func json(_ bytes: [UInt8]?) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(try #require(bytes)))
        return try #require(object as? [String: Any])
    }

    // MARK: The disk

    @Test func theDataBecomesAReadOnlyCDROMOnTheFirstBootVolume() throws {
        let definition = try Self.definition(#"{"hostname":"web-1"}"#)
        let xml = GuestXML.xml(definition)
        #expect(xml.contains("<disk type='volume' device='cdrom'>"))
        #expect(xml.contains("<source pool='instances' volume='web_1-first-boot.iso'/>"))
        #expect(xml.contains("<target dev='sda' bus='sata'/>"), "SATA on q35")
        #expect(xml.contains("<readonly/>"))
        // Listed among the volumes the service made, so ?volumes=owned removes it.
        #expect(xml.contains("<virthost-volumes:volume pool='instances' name='web_1-first-boot.iso'/>"))
    }

    @Test func onI440FXTheCDROMIsOnIDE() throws {
        let xml = GuestXML.xml(try Self.definition("{}", machine: "pc"))
        #expect(xml.contains("<target dev='hda' bus='ide'/>"))
    }

    @Test func unresolvedDataOrAConfigDriveOfTheCallersIsRefused() throws {
        let json = #"{"name":"g","memory_mb":64,"first_boot":{}}"#
        let spec = try GuestSpec.parse(json: Array(json.utf8))
        #expect(throws: GuestSpecError.self) { try GuestDefinition(spec) }
        let both = Self.errors("{}", extra: #","storage":{"config_drive":{"source":"/var/lib/libvirt/images/cd.iso"}}"#)
        #expect(both.contains { $0.pointer == "/spec/first_boot" && $0.detail.contains("storage.config_drive") })
    }

    // MARK: Files

    @Test func noCloudFiles() throws {
        let userData = "#cloud-config\npackages: [nginx]\nruncmd:\n  - echo ‘hi’ > /tmp/x\n"
        let spec = FirstBootSpec(hostname: "web-1", sshAuthorizedKeys: [Self.key], userData: userData,
                                 metaData: ["role": "web"])
        let files = FirstBootFiles(spec, name: "web_1", uuid: Self.uuid, macs: ["52:54:00:AA:BB:01"])
        #expect(files.label == "cidata")
        #expect(files.files.map(\.path) == ["meta-data", "user-data", "network-config"])
        #expect(Self.file(files, "user-data") == Array(userData.utf8), "byte for byte")
        let meta = try Self.json(Self.file(files, "meta-data"))
        #expect(meta["instance-id"] as? String == Self.uuid)
        #expect(meta["local-hostname"] as? String == "web-1")
        #expect(meta["public-keys"] as? [String] == [Self.key])
        #expect((meta["meta"] as? [String: String]) == ["role": "web"])
        let network = try Self.json(Self.file(files, "network-config"))
        #expect(network["version"] as? Int == 2)
        let nic = try #require((network["ethernets"] as? [String: Any])?["nic0"] as? [String: Any])
        #expect((nic["match"] as? [String: String])?["macaddress"] == "52:54:00:aa:bb:01")
        #expect(nic["dhcp4"] as? Bool == true)
    }

    @Test func noUserDataIsAnEmptyCloudConfigAndTheHostNameComesFromTheName() throws {
        let files = FirstBootFiles(FirstBootSpec(), name: "Web_1", uuid: Self.uuid, macs: [])
        #expect(Self.file(files, "user-data") == Array(FirstBootFiles.emptyCloudConfig.utf8))
        #expect(try Self.json(Self.file(files, "meta-data"))["local-hostname"] as? String == "web-1")
        #expect(!files.files.contains { $0.path == "network-config" }, "no interfaces, no network file")
        #expect(CloudConfigYAML.problem(in: FirstBootFiles.emptyCloudConfig) == nil)
    }

    @Test func configDriveFiles() throws {
        let network = #"{"version":2,"ethernets":{"lan":{"match":{"macaddress":"52:54:00:aa:bb:01"},"#
            + #""addresses":["192.0.2.10/24","2001:db8::10/64"],"gateway4":"192.0.2.1","mtu":1450,"#
            + #""nameservers":{"addresses":["192.0.2.53"],"search":["example.org"]},"#
            + #""routes":[{"to":"198.51.100.0/24","via":"192.0.2.254"}]}}}"#
        let definition = try Self.definition(#"{"format":"config-drive","ssh_authorized_keys":["\#(Self.key)"],"#
                                             + ##""user_data":"#!/bin/sh\necho hi\n","network_config":\##(network)}"##)
        let files = FirstBootFiles(try #require(definition.spec.firstBoot), name: "web_1", uuid: Self.uuid,
                                   macs: definition.macs)
        #expect(files.label == "config-2")
        for version in ["latest", FirstBootFiles.openStackVersion] {
            let meta = try Self.json(Self.file(files, "openstack/\(version)/meta_data.json"))
            #expect(meta["uuid"] as? String == Self.uuid)
            #expect(meta["name"] as? String == "web_1")
            #expect(meta["hostname"] as? String == "web-1")
            #expect((meta["public_keys"] as? [String: String]) == ["key-0": Self.key])
            #expect(Self.file(files, "openstack/\(version)/user_data") == Array("#!/bin/sh\necho hi\n".utf8))
            let data = try Self.json(Self.file(files, "openstack/\(version)/network_data.json"))
            let links = try #require(data["links"] as? [[String: Any]])
            #expect(links.first?["ethernet_mac_address"] as? String == "52:54:00:aa:bb:01")
            #expect(links.first?["mtu"] as? Int == 1450)
            let networks = try #require(data["networks"] as? [[String: Any]])
            #expect(networks.map { $0["type"] as? String } == ["ipv4", "ipv6"])
            #expect(networks.first?["netmask"] as? String == "255.255.255.0")
            #expect(networks.last?["netmask"] as? String == "ffff:ffff:ffff:ffff:0:0:0:0")
            let routes = try #require(networks.first?["routes"] as? [[String: String]])
            #expect(routes == [["network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.0.2.1"],
                               ["network": "198.51.100.0", "netmask": "255.255.255.0", "gateway": "192.0.2.254"]])
            #expect((data["services"] as? [[String: String]]) == [["type": "dns", "address": "192.0.2.53"]])
        }
    }

    // MARK: Refusals

    @Test(arguments: ["web/1", "..", "a..b", "-web", "web-", "web_1", "$(reboot)", "a;b", "a b", String(repeating: "a", count: 64)])
    func hostileHostNamesAreRefused(hostname: String) {
        let escaped = hostname.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let errors = Self.errors(#"{"hostname":"\#(escaped)"}"#)
        #expect(errors.map(\.pointer) == ["/spec/first_boot/hostname"], "\(errors)")
    }

    @Test func aHostNameWithANewlineIsRefused() {
        #expect(Self.errors(#"{"hostname":"web\nrm -rf /"}"#).contains { $0.pointer == "/spec/first_boot/hostname" })
    }

    @Test func keysMustBeOpenSSHPublicKeys() {
        let ed25519Body = "AAAAC3NzaC1lZDI1NTE5AAAAIN/t+RriMyqtSGozh/KnEnyqH4Jl/WTOuRVdESj6UnLC"
        let keys = [Self.key, "ssh-ed25519 not*base64", "ssh-rsa \(ed25519Body)", #"command=\"/bin/sh\" ssh-ed25519 \#(ed25519Body)"#,
                    "ssh-ed25519", "ssh-ed25519 AAAA"]
        let list = keys.map { "\"\($0)\"" }.joined(separator: ",")
        let pointers = Self.errors(#"{"ssh_authorized_keys":[\#(list)]}"#).map(\.pointer)
        #expect(pointers == (1...5).map { "/spec/first_boot/ssh_authorized_keys/\($0)" })
    }

    @Test(arguments: ["../etc", "a/b", ".", "..", "a b", "x\\u0000y"])
    func metaDataKeysThatCouldBePathsAreRefused(key: String) {
        let errors = Self.errors(#"{"meta_data":{"\#(key)":"v"}}"#)
        #expect(!errors.isEmpty && errors.allSatisfy { $0.pointer.hasPrefix("/spec/first_boot/meta_data/") }, "\(errors)")
    }

    @Test func userDataOverNovasLimitIsRefused() {
        let big = String(repeating: "a", count: 1 << 20)
        let errors = Self.errors(#"{"user_data":"\#(big)"}"#)
        #expect(errors.map(\.pointer) == ["/spec/first_boot/user_data"])
        #expect(errors.first?.detail.contains("65535") == true)
    }

    @Test func theFilesTogetherStayUnder64KiB() {
        let meta = (0..<128).map { #""k\#($0)":"\#(String(repeating: "v", count: 255))""# }.joined(separator: ",")
        let userData = String(repeating: "#", count: 40_000)
        let errors = Self.errors(#"{"user_data":"\#(userData)","meta_data":{\#(meta)}}"#)
        #expect(errors.map(\.pointer) == ["/spec/first_boot"], "\(errors)")
    }

    @Test func invalidUTF8InUserDataIsAFieldError() throws {
        var body = Array(#"{"name":"g","memory_mb":64,"first_boot":{"user_data":"a"#.utf8)
        body += [0xC3, 0x28]
        body += Array(#""}}"#.utf8)
        let (_, errors) = GuestSpec.read(json: body, pointer: "/spec")
        #expect(errors.map(\.pointer) == ["/spec/first_boot/user_data"])
    }

    @Test func cloudConfigMustBeAYAMLMapping() {
        let syntax = Self.errors(##"{"user_data":"#cloud-config\npackages: [a\n"}"##)
        #expect(syntax.map(\.pointer) == ["/spec/first_boot/user_data"])
        #expect(syntax.first?.detail.contains("line 2, column 11") == true, "\(syntax)")
        #expect(!Self.errors(##"{"user_data":"#cloud-config\n- a\n"}"##).isEmpty)
        #expect(!Self.errors(##"{"user_data":"#cloud-config\n"}"##).isEmpty)
        #expect(Self.errors(##"{"user_data":"#!/bin/sh\n[[[ not yaml\n"}"##).isEmpty, "a script is not YAML")
    }

    @Test func networkConfigIsCheckedAsVersion2() {
        let errors = Self.errors(#"{"format":"config-drive","network_config":{"version":1,"ethernets":{"e/0":{"#
                                 + #""match":{"name":"eth0"},"addresses":["192.0.2.300/24","10.0.0.1"],"gateway4":"::1","#
                                 + #""mtu":10,"routes":[{"to":"nowhere"}],"bogus":true}}}}"#)
        let pointers = Set(errors.map(\.pointer))
        let base = "/spec/first_boot/network_config"
        for expected in [base + "/version", base + "/ethernets/e~10", base + "/ethernets/e~10/addresses/0",
                         base + "/ethernets/e~10/addresses/1", base + "/ethernets/e~10/gateway4",
                         base + "/ethernets/e~10/mtu", base + "/ethernets/e~10/routes/0/to",
                         base + "/ethernets/e~10/routes/0/via", base + "/ethernets/e~10/bogus",
                         base + "/ethernets/e~10/match/macaddress"] {
            #expect(pointers.contains(expected), "\(expected) in \(errors)")
        }
    }

    // MARK: Against cloud-init

    /// cloud-init's own schema check (Debian's cloud-init, which the test command installs)
    /// accepts what the service accepts and refuses a syntax error at the line the service names.
    @Test func cloudInitsSchemaCheckAgrees() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloud-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let valid = "#cloud-config\nhostname: web-1\npackages: [nginx]\nruncmd:\n  - [sh, -c, 'echo hi']\n"
        let broken = "#cloud-config\nruncmd:\n  - echo a\n  packages: [x\nusers: []\n"
        for (name, text) in [("valid", valid), ("broken", broken), ("empty", FirstBootFiles.emptyCloudConfig)] {
            try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        }
        #expect(CloudConfigYAML.problem(in: valid) == nil)
        _ = try run("cloud-init", ["schema", "--config-file", directory.appendingPathComponent("valid").path])
        _ = try run("cloud-init", ["schema", "--config-file", directory.appendingPathComponent("empty").path])
        let problem = try #require(CloudConfigYAML.problem(in: broken))
        do {
            _ = try run("cloud-init", ["schema", "--config-file", directory.appendingPathComponent("broken").path])
            Issue.record("cloud-init accepted a syntax error")
        } catch {
            // cloud-init names the place as `format-l<line>.c<column>`.
            let text = "\(error)"
            #expect(text.contains("format-l\(problem.line ?? 0).c\(problem.column ?? 0)"), "\(problem) vs \(text)")
        }
    }
}
