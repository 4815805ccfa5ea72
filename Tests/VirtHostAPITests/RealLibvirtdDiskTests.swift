import Foundation
import Testing
import TestSupport

/// A guest's disks changed in place on the real libvirtd: a qcow2 disk grown while the guest
/// runs and while it is stopped, and CD-ROM media inserted and ejected, with `qemu-img info`
/// and `virsh domblklist` as the witnesses.
extension RealLibvirtdTests {
    /// A directory of its own under libvirt's images directory, where QEMU may open files.
    func diskTestDirectory() throws -> String {
        let root = "/var/lib/libvirt/images/virthost-disks-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    /// `qemu-img info`'s virtual size of `path`; `-U` reads an image a running QEMU holds.
    func virtualSize(_ path: String) throws -> Int? {
        let output = try run("qemu-img", ["info", "-U", "--output=json", path])
        return (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["virtual-size"] as? Int
    }

    /// `virsh domblklist`'s source of `target` ("-" for an empty drive), live or defined.
    func blockSource(_ name: String, _ target: String, inactive: Bool = false) throws -> String? {
        var arguments = ["-c", uri, "domblklist", name]
        if inactive { arguments.append("--inactive") }
        for line in try run("virsh", arguments).split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.count == 2, words[0] == target { return String(words[1]) }
        }
        return nil
    }

    @Test func aDiskGrowsWhileItsGuestRunsAndThroughItsPoolWhenStopped() async throws {
        let name = Self.guestName()
        let root = try diskTestDirectory()
        let pool = "virthost-test-pool-\(UUID().uuidString.prefix(8).lowercased())"
        defer {
            removeGuest(name)
            _ = try? run("virsh", ["-c", uri, "pool-destroy", pool])
            _ = try? run("virsh", ["-c", uri, "pool-undefine", pool])
            try? FileManager.default.removeItem(atPath: root)
        }
        let image = root + "/disk.qcow2"
        _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", image, "32M"])
        let api = try APITestServer(uri: uri, allowedDiskRoots: [root])
        defer { Task { await api.stop() } }
        func resize(_ target: String, _ bytes: Int) async throws -> HTTPTestResponse {
            try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/disks/\(target)/resize",
                                  body: Array(#"{"capacity_bytes":\#(bytes)}"#.utf8), timeout: 60)
        }

        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},
                     "disks":[{"source":"\#(image)","format":"qcow2"}]}}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        #expect(try virshState(name) == "running")

        // Running: QEMU grows the image, and qemu-img sees the new size.
        let grown = try await resize("vda", 64 << 20)
        #expect(grown.status == 200, "\(grown.text)")
        #expect(try grown.json()["capacity_bytes"] as? Int == 64 << 20)
        #expect(try grown.json()["target"] as? String == "vda")
        #expect(try virtualSize(image) == 64 << 20)

        // Shrinking is a field error and changes nothing; the same size changes nothing either.
        let smaller = try await resize("vda", 16 << 20)
        #expect(smaller.status == 422, "\(smaller.text)")
        #expect(smaller.text.contains("/capacity_bytes"))
        #expect(try virtualSize(image) == 64 << 20)
        #expect(try await resize("vda", 64 << 20).status == 200)

        // No such disk: 404, naming it.
        let missing = try await resize("vdq", 64 << 20)
        #expect(missing.status == 404, "\(missing.text)")
        #expect(try missing.json()["type"] as? String == "https://virthost.dev/problems/device-not-found")

        // Stopped, with the image in no pool: libvirt has no way to grow it, and says so.
        _ = try run("virsh", ["-c", uri, "destroy", name])
        let unpooled = try await resize("vda", 96 << 20)
        #expect(unpooled.status == 409, "\(unpooled.text)")
        #expect(try unpooled.json()["type"] as? String == "https://virthost.dev/problems/disk-not-resizable")
        #expect(try virtualSize(image) == 64 << 20)

        // Stopped, with a dir pool over its directory: it grows as that pool's volume.
        let made = try await httpRequest(port: api.port, "POST", "/v1/storage/pools", body: Array(
            #"{"name":"\#(pool)","type":"dir","path":"\#(root)"}"#.utf8), timeout: 30)
        #expect(made.status == 201, "\(made.text)")
        let pooled = try await resize("vda", 96 << 20)
        #expect(pooled.status == 200, "\(pooled.text)")
        #expect(try pooled.json()["capacity_bytes"] as? Int == 96 << 20)
        #expect(try virtualSize(image) == 96 << 20)
        let shrinkStopped = try await resize("vda", 32 << 20)
        #expect(shrinkStopped.status == 422, "\(shrinkStopped.text)")
        #expect(try virtualSize(image) == 96 << 20)
    }

    @Test func aCDROMTakesMediaWhileItsGuestRunsAndEjectsThem() async throws {
        let name = Self.guestName()
        let root = try diskTestDirectory()
        defer {
            removeGuest(name)
            try? FileManager.default.removeItem(atPath: root)
        }
        // Two ISO images made with genisoimage, each with a file of its own.
        for label in ["first", "second"] {
            let content = root + "/" + label
            try FileManager.default.createDirectory(atPath: content, withIntermediateDirectories: true)
            try Data("\(label) medium\n".utf8).write(to: URL(fileURLWithPath: content + "/readme.txt"))
            _ = try run("genisoimage", ["-quiet", "-V", label.uppercased(), "-o", "\(root)/\(label).iso", content])
        }
        let data = root + "/data.raw"
        _ = try run("qemu-img", ["create", "-q", "-f", "raw", data, "1M"])
        let api = try APITestServer(uri: uri, allowedDiskRoots: [root])
        defer { Task { await api.stop() } }
        func media(_ method: String, _ target: String, _ body: String = "", query: String = "") async throws
            -> HTTPTestResponse {
            try await httpRequest(port: api.port, method, "/v1/domains/\(name)/disks/\(target)/media\(query)",
                                  body: Array(body.utf8), timeout: 60)
        }

        // A CD-ROM drive defined empty, beside a plain disk.
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},
                     "disks":[{"source":"\#(data)","format":"raw"},{"device":"cdrom","target":"sda"}]}}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        #expect(try virshState(name) == "running")
        #expect(try blockSource(name, "sda") == "-")

        // Inserted live and into the definition (the defaults for a running persistent guest).
        let inserted = try await media("PUT", "sda", #"{"source":"\#(root)/first.iso"}"#)
        #expect(inserted.status == 200, "\(inserted.text)")
        #expect(try blockSource(name, "sda") == "\(root)/first.iso")
        #expect(try blockSource(name, "sda", inactive: true) == "\(root)/first.iso")

        // Changed on the running guest only: the definition keeps the first.
        let changed = try await media("PUT", "sda", #"{"source":"\#(root)/second.iso"}"#, query: "?persistent=false")
        #expect(changed.status == 200, "\(changed.text)")
        #expect(try blockSource(name, "sda") == "\(root)/second.iso")
        #expect(try blockSource(name, "sda", inactive: true) == "\(root)/first.iso")

        // Refusals change nothing: a plain disk takes no medium, a missing file or a path
        // outside the allowed roots is a field error at /source.
        let notRemovable = try await media("PUT", "vda", #"{"source":"\#(root)/first.iso"}"#)
        #expect(notRemovable.status == 409, "\(notRemovable.text)")
        #expect(try notRemovable.json()["type"] as? String == "https://virthost.dev/problems/disk-not-removable")
        let absent = try await media("PUT", "sda", #"{"source":"\#(root)/absent.iso"}"#)
        #expect(absent.status == 422, "\(absent.text)")
        #expect(absent.text.contains("/source"))
        let outside = try await media("PUT", "sda", #"{"source":"/etc/passwd"}"#)
        #expect(outside.status == 422, "\(outside.text)")
        let noVolume = try await media("PUT", "sda", #"{"source":{"pool":"virthost-no-pool","volume":"x.iso"}}"#)
        #expect(noVolume.status == 422, "\(noVolume.text)")
        #expect(try blockSource(name, "sda") == "\(root)/second.iso")
        #expect(try await media("PUT", "sdq", #"{"source":"\#(root)/first.iso"}"#).status == 404)

        // Ejected from both: the drive is empty again, live and defined.
        let ejected = try await media("DELETE", "sda")
        #expect(ejected.status == 200, "\(ejected.text)")
        #expect(try blockSource(name, "sda") == "-")
        #expect(try blockSource(name, "sda", inactive: true) == "-")
        #expect(try await media("DELETE", "vda").status == 409)
    }
}
