import Foundation
import Testing
import TestSupport
@testable import VirtHost

/// Guests on storage volumes on the real libvirtd: `volume` disks, root and ephemeral volumes
/// the service makes in the instances pool (created by the service in a temporary directory),
/// an image pool made through the API with an image from `qemu-img`. `qemu-img` and `virsh`
/// are the witnesses.
extension RealLibvirtdTests {
    /// A temporary root with an image pool holding `base.qcow2` (16 MiB, made by qemu-img),
    /// and the names of an instances pool the service is to create under it.
    struct VolumeFixture {
        let root: String
        let imagePool: String
        let instancesPool: String
        var imagePath: String { root + "/images" }
        var instancesPath: String { root + "/instances" }
        var base: String { imagePath + "/base.qcow2" }

        static func make(_ uri: String) throws -> VolumeFixture {
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let fixture = VolumeFixture(root: NSTemporaryDirectory() + "virthost-guestvol-\(suffix)",
                                        imagePool: "virthost-test-images-\(suffix)",
                                        instancesPool: "virthost-test-instances-\(suffix)")
            try FileManager.default.createDirectory(atPath: fixture.imagePath, withIntermediateDirectories: true)
            _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", fixture.base, "16M"])
            _ = try run("virsh", ["-c", uri, "pool-create-as", fixture.imagePool, "dir", "--target", fixture.imagePath])
            return fixture
        }

        func volumeFiles() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: instancesPath)) ?? []).sorted()
        }

        func remove(_ uri: String) {
            for pool in [instancesPool, imagePool] {
                for volume in (try? run("virsh", ["-c", uri, "vol-list", pool, "--name"]))?.split(separator: "\n") ?? [] {
                    let name = volume.trimmingCharacters(in: .whitespaces)
                    if !name.isEmpty { _ = try? run("virsh", ["-c", uri, "vol-delete", name, "--pool", pool]) }
                }
                _ = try? run("virsh", ["-c", uri, "pool-destroy", pool])
                _ = try? run("virsh", ["-c", uri, "pool-undefine", pool])
            }
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    func volumeAPI(_ fixture: VolumeFixture) throws -> APITestServer {
        try APITestServer(uri: uri, instancesPath: fixture.instancesPath, allowedDiskRoots: [fixture.root],
                          instancesPool: fixture.instancesPool)
    }

    @Test func aGuestOnARootOverlayStartsAndItsOwnedVolumesGoWithIt() async throws {
        let fixture = try VolumeFixture.make(uri)
        let name = Self.guestName()
        defer {
            removeGuest(name)
            fixture.remove(uri)
        }
        _ = try run("qemu-img", ["create", "-q", "-f", "raw", fixture.imagePath + "/data.raw", "8M"])
        _ = try run("virsh", ["-c", uri, "pool-refresh", fixture.imagePool])
        let api = try volumeAPI(fixture)
        defer { Task { await api.stop() } }
        let spec = #"""
            {"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"]},
             "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},
             "storage":{"root":{"image":{"pool":"\#(fixture.imagePool)","volume":"base.qcow2"},"size_gb":1},
                        "ephemeral":{"size_gb":1}},
             "disks":[{"type":"volume","source":{"pool":"\#(fixture.imagePool)","volume":"data.raw"}}]}
            """#

        // Render shows the volume disks and makes nothing: the instances pool is not even there.
        let rendered = try await httpRequest(port: api.port, "POST", "/v1/guests/render", body: Array(spec.utf8),
                                             timeout: 60)
        #expect(rendered.status == 200, "\(rendered.text)")
        let xml = try rendered.json()["xml"] as? String ?? rendered.text
        #expect(xml.contains("<source pool='\(fixture.instancesPool)' volume='\(name)-root'/>"), "\(xml)")
        #expect(xml.contains("<source pool='\(fixture.instancesPool)' volume='\(name)-ephemeral'/>"))
        #expect(xml.contains("<source pool='\(fixture.imagePool)' volume='data.raw'/>"))
        // The raw volume's own format, not the qcow2 default.
        #expect(xml.contains("<driver name='qemu' type='raw'/>"), "\(xml)")
        #expect(!(try run("virsh", ["-c", uri, "pool-list", "--all", "--name"]).contains(fixture.instancesPool)))

        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(
            #"{"spec":\#(spec),"start":true}"#.utf8), timeout: 120)
        #expect(created.status == 201, "\(created.text)")
        #expect(try virshState(name) == "running")
        // The instances pool was made on the instances path, and the overlay sits on the image.
        #expect(try run("virsh", ["-c", uri, "pool-list", "--name"]).contains(fixture.instancesPool))
        #expect(fixture.volumeFiles() == ["\(name)-ephemeral", "\(name)-root"])
        let info = try run("qemu-img", ["info", "--output=json", "-U", fixture.instancesPath + "/\(name)-root"])
        let image = try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any]
        #expect(image?["backing-filename"] as? String == fixture.base, "\(info)")
        #expect(image?["virtual-size"] as? Int == 1 << 30)
        let dumped = try run("virsh", ["-c", uri, "dumpxml", name, "--inactive"])
        #expect(dumped.contains("https://virthost.dev/xmlns/volumes/1"), "\(dumped)")
        #expect(dumped.contains("<disk type='volume' device='disk'>"))

        // The volumes list which domain uses them.
        let root = try await httpRequest(port: api.port,
                                         "/v1/storage/pools/\(fixture.instancesPool)/volumes/\(name)-root")
        #expect(try root.json()["used_by"] as? [String] == [name], "\(root.text)")

        let deleted = try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true&volumes=owned",
                                            timeout: 60)
        #expect(deleted.status == 200, "\(deleted.text)")
        let outcome = try deleted.json()
        let gone = (outcome["deleted_volumes"] as? [[String: Any]])?.compactMap { $0["volume"] as? String }
        #expect(gone == ["\(name)-root", "\(name)-ephemeral"], "\(deleted.text)")
        #expect((outcome["kept_volumes"] as? [Any])?.isEmpty == true)
        #expect(fixture.volumeFiles().isEmpty)
        // The image and the caller's volume stay.
        #expect(FileManager.default.fileExists(atPath: fixture.base))
        #expect(FileManager.default.fileExists(atPath: fixture.imagePath + "/data.raw"))
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
    }

    @Test func withoutVolumesOwnedTheVolumesStayAndAreListed() async throws {
        let fixture = try VolumeFixture.make(uri)
        let name = Self.guestName()
        defer {
            removeGuest(name)
            fixture.remove(uri)
        }
        let api = try volumeAPI(fixture)
        defer { Task { await api.stop() } }
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","graphics":{"type":"none"},
                     "storage":{"ephemeral":{"size_gb":1}}},"start":false}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        let info = try run("qemu-img", ["info", "--output=json", fixture.instancesPath + "/\(name)-ephemeral"])
        let image = try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any]
        #expect(image?["format"] as? String == "qcow2")
        #expect(image?["backing-filename"] == nil)

        // A volume disk attached to the definition: its pool and volume must exist.
        let devices = "/v1/domains/\(name)/devices?persistent=true"
        for (source, pointer) in [(#"{"pool":"nope-\#(name)","volume":"x"}"#, "/disk/source/pool"),
                                  (#"{"pool":"\#(fixture.imagePool)","volume":"nope"}"#, "/disk/source/volume")] {
            let refused = try await httpRequest(port: api.port, "POST", devices, body: Array(
                #"{"disk":{"source":\#(source)}}"#.utf8), timeout: 60)
            #expect(refused.status == 422, "\(refused.text)")
            #expect((try refused.json()["errors"] as? [[String: Any]])?.first?["pointer"] as? String == pointer)
        }
        let attached = try await httpRequest(port: api.port, "POST", devices, body: Array(
            #"{"disk":{"source":{"pool":"\#(fixture.imagePool)","volume":"base.qcow2"}}}"#.utf8), timeout: 60)
        #expect(attached.status == 201, "\(attached.text)")
        #expect(try run("virsh", ["-c", uri, "dumpxml", name, "--inactive"])
                    .contains("<source pool='\(fixture.imagePool)' volume='base.qcow2'/>"))

        let deleted = try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)", timeout: 60)
        #expect(deleted.status == 200, "\(deleted.text)")
        let kept = (try deleted.json()["kept_volumes"] as? [[String: Any]])?.first
        #expect(kept?["pool"] as? String == fixture.instancesPool)
        #expect(kept?["volume"] as? String == "\(name)-ephemeral")
        #expect(fixture.volumeFiles() == ["\(name)-ephemeral"])

        // A new guest of that name is refused, naming the volume left behind, and makes nothing.
        let again = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"graphics":{"type":"none"},"storage":{"ephemeral":{"size_gb":1}}}}
            """#.utf8), timeout: 60)
        #expect(again.status == 422, "\(again.text)")
        #expect(again.text.contains("/spec/storage/ephemeral"))
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
    }

    /// The start fails (the PCI device does not exist) after both volumes were made: the
    /// definition, both volumes and the instances pool the request created are removed.
    @Test func aCreateFailingAfterItsVolumesWereMadeLeavesNoVolume() async throws {
        let fixture = try VolumeFixture.make(uri)
        let name = Self.guestName()
        defer {
            removeGuest(name)
            fixture.remove(uri)
        }
        let api = try volumeAPI(fixture)
        defer { Task { await api.stop() } }
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","graphics":{"type":"none"},
                     "cpu":\#(RealLibvirtd.startableCPU),"pci_devices":[{"address":"0000:ff:1f.7"}],
                     "storage":{"root":{"image":{"pool":"\#(fixture.imagePool)","volume":"base.qcow2"}},
                                "ephemeral":[{"size_gb":1}]}}}
            """#.utf8), timeout: 120)
        #expect(response.status == 500, "\(response.text)")
        #expect(try response.json()["rolled_back"] as? Bool == true)
        #expect(fixture.volumeFiles().isEmpty, "\(fixture.volumeFiles())")
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
        #expect(!(try run("virsh", ["-c", uri, "pool-list", "--all", "--name"]).contains(fixture.instancesPool)))
        #expect(FileManager.default.fileExists(atPath: fixture.base))
    }

    @Test func badPoolsAndVolumesAreFieldErrorsThatMakeNothing() async throws {
        let fixture = try VolumeFixture.make(uri)
        let name = Self.guestName()
        defer {
            removeGuest(name)
            fixture.remove(uri)
        }
        let api = try volumeAPI(fixture)
        defer { Task { await api.stop() } }
        let cases: [(storage: String, disks: String, pointers: [String])] = [
            (#"{"root":{"image":{"pool":"no-such-pool-x","volume":"base.qcow2"}}}"#, "[]",
             ["/spec/storage/root/image/pool"]),
            (#"{"root":{"image":{"pool":"\#(fixture.imagePool)","volume":"missing.qcow2"}},"ephemeral":{"size_gb":1}}"#,
             "[]", ["/spec/storage/root/image/volume"]),
            (#"{"root":{"image":{"pool":"\#(fixture.imagePool)","volume":"../base.qcow2"}}}"#, "[]",
             ["/spec/storage/root/image/volume"]),
            ("{}", #"[{"type":"volume","source":{"pool":"\#(fixture.imagePool)","volume":"nope"}}]"#,
             ["/spec/disks/0/source/volume"]),
            ("{}", #"[{"type":"volume","source":{"pool":"nope-\#(name)","volume":"x"}}]"#, ["/spec/disks/0/source/pool"]),
            ("{}", #"[{"type":"volume","source":{"pool":"a/b"}}]"#,
             ["/spec/disks/0/source/pool", "/spec/disks/0/source/volume"]),
            (#"{"root":{"size_gb":0,"source":"\#(fixture.root)/x.qcow2"}}"#, "[]",
             ["/spec/storage/root/size_gb", "/spec/storage/root/source"]),
        ]
        for (storage, disks, pointers) in cases {
            let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
                {"spec":{"name":"\#(name)","memory_mb":64,"graphics":{"type":"none"},"storage":\#(storage),"disks":\#(disks)}}
                """#.utf8), timeout: 60)
            #expect(response.status == 422, "\(storage) \(disks): \(response.text)")
            let found = Set((try response.json()["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String })
            #expect(found == Set(pointers), "\(storage) \(disks): \(response.text)")
        }
        #expect(try !run("virsh", ["-c", uri, "list", "--all", "--name"]).contains(name))
        #expect(!(try run("virsh", ["-c", uri, "pool-list", "--all", "--name"]).contains(fixture.instancesPool)))
        #expect(fixture.volumeFiles().isEmpty)
    }
}

extension RealLibvirtdTests {
    /// Grow only, seen by qemu-img; refused while a running domain has a disk on the volume.
    @Test func aVolumeGrowsButNeverShrinksNorUnderARunningGuest() async throws {
        let fixture = try VolumeFixture.make(uri)
        let name = Self.guestName()
        defer {
            removeGuest(name)
            fixture.remove(uri)
        }
        let api = try volumeAPI(fixture)
        defer { Task { await api.stop() } }
        let volume = "/v1/storage/pools/\(fixture.imagePool)/volumes/base.qcow2"
        func resize(_ body: String, _ path: String? = nil) async throws -> HTTPTestResponse {
            try await httpRequest(port: api.port, "POST", (path ?? volume) + "/resize", body: Array(body.utf8), timeout: 60)
        }
        func virtualSize(_ path: String) throws -> Int? {
            let info = try run("qemu-img", ["info", "--output=json", "-U", path])
            return (try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])?["virtual-size"] as? Int
        }

        let grown = try await resize(#"{"capacity_bytes":33554432}"#)
        #expect(grown.status == 200, "\(grown.text)")
        #expect(try grown.json()["capacity_bytes"] as? Int == 33_554_432)
        #expect(try virtualSize(fixture.base) == 33_554_432)

        let shrink = try await resize(#"{"capacity_bytes":1048576}"#)
        #expect(shrink.status == 422, "\(shrink.text)")
        #expect(try shrink.json()["type"] as? String == "https://virthost.dev/problems/invalid-storage-request")
        #expect(shrink.text.contains("/capacity_bytes"))
        #expect(try virtualSize(fixture.base) == 33_554_432)
        for bad in [#"{}"#, #"{"capacity_bytes":-1}"#, #"{"capacity_bytes":"big"}"#, #"{"capacity_bytes":1,"x":1}"#] {
            let refused = try await resize(bad)
            #expect(refused.status == 422, "\(bad): \(refused.text)")
        }
        let missing = try await resize(#"{"capacity_bytes":33554432}"#, "/v1/storage/pools/\(fixture.imagePool)/volumes/nope")
        #expect(missing.status == 404, "\(missing.text)")

        // A running guest whose root is an overlay on the image, and the overlay itself.
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","graphics":{"type":"none"},
                     "cpu":\#(RealLibvirtd.startableCPU),
                     "storage":{"root":{"image":{"pool":"\#(fixture.imagePool)","volume":"base.qcow2"}}}}}
            """#.utf8), timeout: 120)
        #expect(created.status == 201, "\(created.text)")
        let root = "/v1/storage/pools/\(fixture.instancesPool)/volumes/\(name)-root"
        let attached = try await resize(#"{"capacity_bytes":67108864}"#, root)
        #expect(attached.status == 409, "\(attached.text)")
        let problem = try attached.json()
        #expect(problem["type"] as? String == "https://virthost.dev/problems/storage-volume-attached")
        #expect(problem["domains"] as? [String] == [name])
        #expect(try virtualSize(fixture.instancesPath + "/\(name)-root") == 33_554_432)

        // Shut off, the same volume grows.
        _ = try run("virsh", ["-c", uri, "destroy", name])
        let offline = try await resize(#"{"capacity_bytes":67108864}"#, root)
        #expect(offline.status == 200, "\(offline.text)")
        #expect(try virtualSize(fixture.instancesPath + "/\(name)-root") == 67_108_864)
        let deleted = try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?volumes=owned", timeout: 60)
        #expect(deleted.status == 200, "\(deleted.text)")
    }
}

extension RealLibvirtdTests {
    /// Volume disks whose volumes are files count in disk_available_least like file disks, the
    /// domain stopped (its statistics have no figures for them) or running (its live XML); the
    /// pools' sizes are in /metrics, which promtool accepts.
    @Test func volumeDisksCountInDiskAvailableLeastAndPoolsAreInMetrics() async throws {
        let fixture = try VolumeFixture.make(uri)
        let name = Self.guestName()
        defer {
            removeGuest(name)
            fixture.remove(uri)
        }
        let api = try volumeAPI(fixture)
        defer { Task { await api.stop() } }
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","graphics":{"type":"none"},
                     "cpu":\#(RealLibvirtd.startableCPU),"storage":{"ephemeral":{"size_gb":2}},
                     "disks":[{"type":"volume","source":{"pool":"\#(fixture.imagePool)","volume":"base.qcow2"}}]},
             "start":false}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        let uuid = try #require(try created.json()["uuid"] as? String)
        func growth(_ path: String) throws -> Int {
            let info = try JSONSerialization.jsonObject(with: Data(try run("qemu-img", ["info", "-U", "--output=json", path]).utf8))
                as? [String: Any]
            let capacity = try #require(info?["virtual-size"] as? Int)
            let allocated = try #require(Int(try run("stat", ["-c", "%b", path]).trimmingCharacters(in: .whitespacesAndNewlines)))
            return capacity - allocated * 512
        }
        func overCommitted() async throws -> Int? {
            try await api.host.metrics(maxAge: .zero).disk.overCommittedByDomain[uuid].map(Int.init)
        }
        let files = [fixture.instancesPath + "/\(name)-ephemeral", fixture.base]
        let stopped = try await overCommitted()
        let expected = try files.map(growth).reduce(0, +)
        #expect(stopped == expected)
        #expect(expected > 2_000_000_000)
        _ = try run("virsh", ["-c", uri, "start", name])
        let running = try await overCommitted()
        #expect(running == (try files.map(growth).reduce(0, +)))

        let scrape = try await httpRequest(port: api.port, "/metrics").text
        let pool = try await httpRequest(port: api.port, "/v1/storage/pools/\(fixture.imagePool)").json()
        let capacity = try #require(pool["capacity_bytes"] as? Int)
        let samples = try MetricsEndpointTests.samples(scrape).filter { $0.labels == #"{pool="\#(fixture.imagePool)"}"# }
        #expect(Set(samples.map(\.name)) == ["libvirt_storage_pool_capacity_bytes", "libvirt_storage_pool_allocation_bytes",
                                             "libvirt_storage_pool_available_bytes"], "\(scrape)")
        #expect(samples.first { $0.name == "libvirt_storage_pool_capacity_bytes" }?.value == Double(capacity))
        #expect(scrape.contains(#"libvirt_storage_pool_capacity_bytes{pool="\#(fixture.instancesPool)"}"#))
        let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("scrape-\(UUID()).txt")
        try scrape.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let verdict = try await onOwnThread {
            try run("sh", ["-c", #"promtool check metrics < "$1" 2>&1; echo "exit $?""#, "sh", file.path])
        }
        #expect(verdict == "exit 0\n", "promtool: \(verdict)")
        let deleted = try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true&volumes=owned",
                                            timeout: 60)
        #expect(deleted.status == 200, "\(deleted.text)")
    }
}
