import Foundation
import Testing
import TestSupport
@testable import VirtHost

/// First-boot disks on the real libvirtd: made by the service as ISO 9660 volumes in the
/// instances pool, attached as read-only CD-ROMs, and removed with their guest or with a
/// create that fails. `isoinfo` (from genisoimage's package) reads them back; `virsh` witnesses
/// the domain.
extension RealLibvirtdTests {
    static let firstBootKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN/t+RriMyqtSGozh/KnEnyqH4Jl/WTOuRVdESj6UnLC ops@example"

    /// The bytes of `path` inside the ISO image `image`, through its Rock Ridge names.
    func isoFile(_ image: String, _ path: String) throws -> [UInt8] {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("iso-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        // isoinfo writes the file to its standard output, which `run` takes as text: a shell
        // redirect into a file keeps the bytes exact.
        _ = try run("/bin/sh", ["-c", "isoinfo -R -i \"$1\" -x \"$2\" > \"$3\"", "sh", image, path, output.path])
        return [UInt8](try Data(contentsOf: output))
    }

    /// Runs `body` with a volume fixture (an image pool, an instances pool to be made), a guest
    /// name and a service on them; removes all three afterwards.
    func withFirstBootFixture(_ body: (VolumeFixture, String, APITestServer) async throws -> Void) async throws {
        let fixture = try VolumeFixture.make(uri)
        let name = Self.guestName()
        defer {
            removeGuest(name)
            fixture.remove(uri)
        }
        let api = try volumeAPI(fixture)
        defer { Task { await api.stop() } }
        try await body(fixture, name, api)
    }

    func isoLabel(_ image: String) throws -> String? {
        try run("isoinfo", ["-d", "-i", image]).split(separator: "\n").first { $0.hasPrefix("Volume id:") }
            .map { $0.dropFirst("Volume id:".count).trimmingCharacters(in: .whitespaces) }
    }

    @Test func aNoCloudGuestStartsWithItsCIDATADiskWhichGoesWithIt() async throws {
        try await withFirstBootFixture { fixture, name, api in
            let userData = "#cloud-config\npackages: [nginx]\nruncmd:\n  - [sh, -c, 'echo héllo > /tmp/x']\n"
            let userDataJSON = String(decoding: try JSONSerialization.data(withJSONObject: userData, options: .fragmentsAllowed),
                                      as: UTF8.self)
            let uuid = UUID().uuidString.lowercased()
            let spec = #"""
                {"name":"\#(name)","uuid":"\#(uuid)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                 "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},"interfaces":[{"type":"user","mac":"52:54:00:fb:00:01"}],
                 "first_boot":{"hostname":"web-1","ssh_authorized_keys":["\#(Self.firstBootKey)"],"user_data":\#(userDataJSON),
                               "meta_data":{"role":"web"}}}
                """#

            // The render shows the disk and its files, and makes nothing.
            let rendered = try await httpRequest(port: api.port, "POST", "/v1/guests/render?include=first_boot",
                                                 body: Array(spec.utf8), timeout: 60)
            #expect(rendered.status == 200, "\(rendered.text)")
            let preview = try #require(try rendered.json()["first_boot"] as? [String: Any])
            #expect(preview["label"] as? String == "cidata")
            let files = try #require(preview["files"] as? [[String: String]])
            #expect(files.map { $0["path"] } == ["meta-data", "user-data", "network-config"])
            let xml = try rendered.json()["xml"] as? String ?? ""
            #expect(xml.contains("<source pool='\(fixture.instancesPool)' volume='\(name)-first-boot.iso'/>"), "\(xml)")
            #expect(fixture.volumeFiles().isEmpty)

            let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(
                #"{"spec":\#(spec),"start":true}"#.utf8), timeout: 120)
            #expect(created.status == 201, "\(created.text)")
            #expect(try virshState(name) == "running")
            #expect(fixture.volumeFiles() == ["\(name)-first-boot.iso"])
            let image = fixture.instancesPath + "/\(name)-first-boot.iso"

            // The disk: an ISO labelled cidata whose files are, byte for byte, what the render
            // showed, with the user data exactly as the spec gave it.
            #expect(try isoLabel(image) == "cidata")
            for file in files {
                let path = try #require(file["path"])
                #expect(try isoFile(image, "/" + path) == Array(try #require(file["content"]).utf8), "\(path)")
            }
            #expect(try isoFile(image, "/user-data") == Array(userData.utf8))
            let meta = try JSONSerialization.jsonObject(with: Data(try isoFile(image, "/meta-data"))) as? [String: Any]
            #expect(meta?["instance-id"] as? String == uuid)
            #expect(meta?["local-hostname"] as? String == "web-1")
            #expect(meta?["public-keys"] as? [String] == [Self.firstBootKey])

            // Attached read-only as a SATA CD-ROM (q35), from the volume.
            #expect(try blockSource(name, "sda") == "\(name)-first-boot.iso")
            let dumped = try run("virsh", ["-c", uri, "dumpxml", name])
            #expect(dumped.contains("<disk type='volume' device='cdrom'>"), "\(dumped)")
            #expect(dumped.contains("<readonly/>"))

            let deleted = try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true&volumes=owned",
                                                timeout: 60)
            #expect(deleted.status == 200, "\(deleted.text)")
            let gone = (try deleted.json()["deleted_volumes"] as? [[String: Any]])?.compactMap { $0["volume"] as? String }
            #expect(gone == ["\(name)-first-boot.iso"], "\(deleted.text)")
            #expect(fixture.volumeFiles().isEmpty)
        }
    }

    @Test func aConfigDriveHoldsOpenStacksFilesOnAnIDECDROMOfAnI440FXGuest() async throws {
        try await withFirstBootFixture { fixture, name, api in
            let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
                {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"machine":"pc"},
                         "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},
                         "first_boot":{"format":"config-drive","user_data":"#!/bin/sh\necho hi\n",
                                       "network_config":{"version":2,"ethernets":{"lan":{"match":{"macaddress":"52:54:00:fb:00:02"},
                                                         "addresses":["192.0.2.10/24"],"gateway4":"192.0.2.1"}}}}},
                 "start":false}
                """#.utf8), timeout: 120)
            #expect(created.status == 201, "\(created.text)")
            let image = fixture.instancesPath + "/\(name)-first-boot.iso"
            #expect(try isoLabel(image) == "config-2")
            let uuid = try run("virsh", ["-c", uri, "domuuid", name]).trimmingCharacters(in: .whitespacesAndNewlines)
            for version in ["latest", "2018-08-27"] {
                let meta = try JSONSerialization.jsonObject(with: Data(try isoFile(image, "/openstack/\(version)/meta_data.json")))
                    as? [String: Any]
                #expect(meta?["uuid"] as? String == uuid)
                #expect(meta?["name"] as? String == name)
                #expect(try isoFile(image, "/openstack/\(version)/user_data") == Array("#!/bin/sh\necho hi\n".utf8))
                let network = try JSONSerialization.jsonObject(with: Data(try isoFile(image, "/openstack/\(version)/network_data.json")))
                    as? [String: Any]
                let links = network?["links"] as? [[String: Any]]
                #expect(links?.first?["ethernet_mac_address"] as? String == "52:54:00:fb:00:02")
            }
            #expect(try blockSource(name, "hda", inactive: true) == "\(name)-first-boot.iso")
        }
    }

    /// The start fails (the PCI device does not exist) after the disk was made; and the ISO
    /// tool fails before anything was made: either way no volume, pool or domain stays.
    @Test func aCreateThatFailsLeavesNoFirstBootVolume() async throws {
        let fixture = try VolumeFixture.make(uri)
        let name = Self.guestName()
        defer {
            removeGuest(name)
            fixture.remove(uri)
        }
        let spec = #"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","graphics":{"type":"none"},
                     "cpu":\#(RealLibvirtd.startableCPU),"pci_devices":[{"address":"0000:ff:1f.7"}],
                     "first_boot":{"user_data":"#cloud-config\n{}\n"}}}
            """#
        let api = try volumeAPI(fixture)
        let failedStart = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(spec.utf8), timeout: 120)
        await api.stop()
        #expect(failedStart.status == 500, "\(failedStart.text)")
        #expect(try failedStart.json()["rolled_back"] as? Bool == true)
        #expect(fixture.volumeFiles().isEmpty, "\(fixture.volumeFiles())")
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
        #expect(!(try run("virsh", ["-c", uri, "pool-list", "--all", "--name"]).contains(fixture.instancesPool)))

        let broken = try APITestServer(uri: uri, instancesPath: fixture.instancesPath, allowedDiskRoots: [fixture.root],
                                       instancesPool: fixture.instancesPool,
                                       isoImage: ISOImage.Configuration(tool: "/nonexistent/genisoimage"))
        defer { Task { await broken.stop() } }
        let failedTool = try await httpRequest(port: broken.port, "POST", "/v1/guests", body: Array(spec.utf8), timeout: 120)
        #expect(failedTool.status == 500, "\(failedTool.text)")
        #expect(try failedTool.json()["type"] as? String == "https://virthost.dev/problems/first-boot-disk-failed")
        #expect(fixture.volumeFiles().isEmpty)
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
    }
}
