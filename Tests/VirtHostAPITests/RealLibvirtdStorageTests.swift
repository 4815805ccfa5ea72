import Foundation
import Testing
import TestSupport

/// Directory pools, volumes and qcow2 overlays on the real libvirtd, in a temporary
/// directory that is the allowed disk root; `qemu-img` and `virsh` are the witnesses.
extension RealLibvirtdTests {
    @Test func aDirPoolHoldsAnOverlayThatADomainUsesAndNothingIsLostOnDelete() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("virthost-storage-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let poolName = "virthost-test-pool-\(UUID().uuidString.prefix(8).lowercased())"
        let guest = Self.guestName()
        defer {
            removeGuest(guest)
            for volume in ["overlay.qcow2", "base.qcow2"] {
                _ = try? run("virsh", ["-c", uri, "vol-delete", volume, "--pool", poolName])
            }
            _ = try? run("virsh", ["-c", uri, "pool-destroy", poolName])
            _ = try? run("virsh", ["-c", uri, "pool-undefine", poolName])
            try? FileManager.default.removeItem(atPath: root)
        }
        let api = try APITestServer(uri: uri, allowedDiskRoots: [root])
        defer { Task { await api.stop() } }
        let path = root + "/pool"
        let pools = "/v1/storage/pools"

        let created = try await httpRequest(port: api.port, "POST", pools, body: Array(
            #"{"name":"\#(poolName)","type":"dir","path":"\#(path)"}"#.utf8), timeout: 30)
        #expect(created.status == 201, "\(created.text)")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue)
        let info = try run("virsh", ["-c", uri, "pool-info", poolName])
        #expect(info.contains("running") && info.contains("Autostart:      yes"), "\(info)")

        let volumes = "\(pools)/\(poolName)/volumes"
        let base = try await httpRequest(port: api.port, "POST", volumes, body: Array(
            #"{"name":"base.qcow2","capacity_bytes":16777216,"format":"qcow2"}"#.utf8), timeout: 30)
        #expect(base.status == 201, "\(base.text)")
        let overlay = try await httpRequest(port: api.port, "POST", volumes, body: Array(
            #"{"name":"overlay.qcow2","backing":{"pool":"\#(poolName)","volume":"base.qcow2"}}"#.utf8), timeout: 30)
        #expect(overlay.status == 201, "\(overlay.text)")
        let details = try overlay.json()
        #expect(details["capacity_bytes"] as? Int == 16_777_216)
        #expect(details["format"] as? String == "qcow2")
        let backing = details["backing"] as? [String: Any]
        #expect(backing?["path"] as? String == path + "/base.qcow2")
        #expect(backing?["format"] as? String == "qcow2")

        // qemu-img sees the overlay on its base.
        let image = try run("qemu-img", ["info", "--output=json", path + "/overlay.qcow2"])
        let imageInfo = try JSONSerialization.jsonObject(with: Data(image.utf8)) as? [String: Any]
        #expect(imageInfo?["backing-filename"] as? String == path + "/base.qcow2", "\(image)")
        #expect(imageInfo?["format"] as? String == "qcow2")

        // An overlay smaller than its base is refused as a field error, and nothing is made.
        let small = try await httpRequest(port: api.port, "POST", volumes, body: Array(
            #"{"name":"small.qcow2","capacity_bytes":1024,"backing":{"pool":"\#(poolName)","volume":"base.qcow2"}}"#.utf8))
        #expect(small.status == 422, "\(small.text)")
        #expect(small.text.contains("/capacity_bytes"))
        #expect(!FileManager.default.fileExists(atPath: path + "/small.qcow2"))

        // A domain (not running) with a disk on the overlay.
        let xml = """
            <domain type='\(RealLibvirtd.virtType)'><name>\(guest)</name><memory unit='MiB'>64</memory>
            <os><type>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
            <source file='\(path)/overlay.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>
            """
        let xmlFile = root + "/guest.xml"
        try xml.write(toFile: xmlFile, atomically: true, encoding: .utf8)
        _ = try run("virsh", ["-c", uri, "define", xmlFile])

        let shown = try await httpRequest(port: api.port, "\(volumes)/overlay.qcow2")
        #expect(try shown.json()["used_by"] as? [String] == [guest], "\(shown.text)")
        let inUse = try await httpRequest(port: api.port, "DELETE", "\(volumes)/overlay.qcow2")
        #expect(inUse.status == 409, "\(inUse.text)")
        #expect(try inUse.json()["domains"] as? [String] == [guest])
        #expect(FileManager.default.fileExists(atPath: path + "/overlay.qcow2"))
        let notEmpty = try await httpRequest(port: api.port, "DELETE", "\(pools)/\(poolName)")
        #expect(notEmpty.status == 409, "\(notEmpty.text)")

        // The base under an overlay is not deleted either: the overlay would be unreadable.
        let baseInUse = try await httpRequest(port: api.port, "DELETE", "\(volumes)/base.qcow2")
        #expect(baseInUse.status == 409, "\(baseInUse.text)")
        #expect(try baseInUse.json()["overlays"] as? [String] == ["\(poolName)/overlay.qcow2"])
        #expect(try baseInUse.json()["domains"] as? [String] == [])

        removeGuest(guest)
        for volume in ["overlay.qcow2", "base.qcow2"] {
            let deleted = try await httpRequest(port: api.port, "DELETE", "\(volumes)/\(volume)", timeout: 30)
            #expect(deleted.status == 204, "\(deleted.text)")
            #expect(!FileManager.default.fileExists(atPath: "\(path)/\(volume)"))
        }
        let removed = try await httpRequest(port: api.port, "DELETE", "\(pools)/\(poolName)", timeout: 30)
        #expect(removed.status == 204, "\(removed.text)")
        #expect(!(try run("virsh", ["-c", uri, "pool-list", "--all", "--name"]).contains(poolName)))
        // The pool's directory is the caller's: undefining the pool leaves it.
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func aPoolWhoseStartFailsIsUndefinedAgain() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("virthost-storage-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A regular file where the pool's directory should be: build fails after the define.
        FileManager.default.createFile(atPath: root + "/file", contents: Data("x".utf8))
        let poolName = "virthost-test-pool-\(UUID().uuidString.prefix(8).lowercased())"
        defer { _ = try? run("virsh", ["-c", uri, "pool-undefine", poolName]) }
        let api = try APITestServer(uri: uri, allowedDiskRoots: [root])
        defer { Task { await api.stop() } }
        let failed = try await httpRequest(port: api.port, "POST", "/v1/storage/pools", body: Array(
            #"{"name":"\#(poolName)","type":"dir","path":"\#(root)/file"}"#.utf8), timeout: 30)
        #expect(failed.status >= 400, "\(failed.text)")
        #expect(!(try run("virsh", ["-c", uri, "pool-list", "--all", "--name"]).contains(poolName)))
        #expect(FileManager.default.fileExists(atPath: root + "/file"))
    }
}
