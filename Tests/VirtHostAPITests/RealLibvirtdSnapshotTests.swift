import Foundation
import Testing
import TestSupport

/// Internal snapshots on the real libvirtd, of a 64 MiB guest with a qcow2 disk made with
/// qemu-img in a temporary directory; qemu-io writes and reads the disk's data.
extension RealLibvirtdTests {
    struct SnapshotGuest {
        let name: String
        let root: String
        var disk: String { root + "/disk.qcow2" }
    }

    /// `filledMiB` of random bytes are loaded into the guest's RAM at reset (QEMU's generic
    /// `loader` device), so a snapshot with memory has that much to write and takes a moment.
    func defineSnapshotGuest(rawDisk: Bool = false, filledMiB: Int = 0) throws -> SnapshotGuest {
        let root = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("virthost-snap-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o777)
        let guest = SnapshotGuest(name: Self.guestName(), root: root)
        _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", guest.disk, "64M"])
        chmod(guest.disk, 0o666)
        var disks = """
            <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(guest.disk)'/>
            <target dev='vda' bus='virtio'/></disk>
            """
        if rawDisk {
            _ = try run("qemu-img", ["create", "-q", "-f", "raw", root + "/raw.img", "1M"])
            chmod(root + "/raw.img", 0o666)
            disks += """
                <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(root)/raw.img'/>
                <target dev='vdb' bus='virtio'/></disk>
                """
        }
        var filler = ""
        if filledMiB > 0 {
            let fill = root + "/fill.bin"
            _ = try run("dd", ["if=/dev/urandom", "of=\(fill)", "bs=1M", "count=\(filledMiB)", "status=none"])
            chmod(fill, 0o644)
            filler = """
                <qemu:commandline><qemu:arg value='-device'/>
                <qemu:arg value='loader,file=\(fill),addr=0x2000000'/></qemu:commandline>
                """
        }
        let memoryMiB = 64 + filledMiB + (filledMiB > 0 ? 32 : 0)
        let xml = """
            <domain type='\(RealLibvirtd.virtType)' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
            <name>\(guest.name)</name><memory unit='MiB'>\(memoryMiB)</memory>
            <os><type>hvm</type><boot dev='hd'/></os><devices>\(disks)</devices>\(filler)</domain>
            """
        try xml.write(toFile: root + "/guest.xml", atomically: true, encoding: .utf8)
        _ = try run("virsh", ["-c", uri, "define", root + "/guest.xml"])
        return guest
    }

    func removeSnapshotGuest(_ guest: SnapshotGuest) {
        _ = try? run("virsh", ["-c", uri, "destroy", guest.name])
        _ = try? run("virsh", ["-c", uri, "undefine", guest.name, "--snapshots-metadata", "--managed-save"])
        try? FileManager.default.removeItem(atPath: guest.root)
    }

    func qemuIO(_ path: String, _ command: String, readOnly: Bool = false) throws -> String {
        try run("qemu-io", (readOnly ? ["-r"] : []) + ["-f", "qcow2", "-c", command, path])
    }

    @Test func dataWrittenAfterASnapshotIsGoneAfterTheRevert() async throws {
        let guest = try defineSnapshotGuest()
        defer { removeSnapshotGuest(guest) }
        let api = try APITestServer(uri: uri)
        defer { Task { await api.stop() } }
        let snapshots = "/v1/domains/\(guest.name)/snapshots"

        _ = try qemuIO(guest.disk, "write -P 0x11 0 1M")
        let first = try await httpRequest(port: api.port, "POST", snapshots, body: Array(
            #"{"name":"first","description":"before the second write"}"#.utf8), timeout: 30)
        #expect(first.status == 201, "\(first.text)")
        #expect(first.headers["location"] == "\(snapshots)/first")
        let made = try first.json()
        #expect(made["memory"] as? Bool == false && made["state"] as? String == "shutoff" && made["current"] as? Bool == true)
        #expect(made["description"] as? String == "before the second write")

        _ = try qemuIO(guest.disk, "write -P 0x22 0 1M")
        #expect(try await httpRequest(port: api.port, "POST", snapshots, body: Array(#"{"name":"second"}"#.utf8),
                                      timeout: 30).status == 201)
        let taken = try await httpRequest(port: api.port, "POST", snapshots, body: Array(#"{"name":"second"}"#.utf8))
        #expect(taken.status == 409 && taken.text.contains("snapshot-exists"), "\(taken.text)")
        // A shut-off guest has no memory to save.
        let noMemory = try await httpRequest(port: api.port, "POST", snapshots, body: Array(#"{"name":"m","memory":true}"#.utf8))
        #expect(noMemory.status == 409 && noMemory.text.contains("invalid-state"), "\(noMemory.text)")

        // The tree: first, with second as its child.
        let tree = try await httpRequest(port: api.port, snapshots).json()["snapshots"] as? [[String: Any]] ?? []
        #expect(tree.map { $0["name"] as? String } == ["first"])
        let children = tree.first?["children"] as? [[String: Any]] ?? []
        #expect(children.map { $0["name"] as? String } == ["second"] && children.first?["parent"] as? String == "first")

        let reverted = try await httpRequest(port: api.port, "POST", "\(snapshots)/first/revert", body: Array("{}".utf8), timeout: 30)
        #expect(reverted.status == 200, "\(reverted.text)")
        #expect(try reverted.json()["current"] as? Bool == true)
        let check = try qemuIO(guest.disk, "read -P 0x11 0 1M", readOnly: true)
        #expect(check.contains("read ") && !check.contains("Pattern verification failed"), "\(check)")

        let xml = try await httpRequest(port: api.port, "\(snapshots)/first?format=xml")
        #expect(xml.status == 200 && xml.text.contains("<domainsnapshot>") && xml.text.contains("<name>first</name>"))
        #expect(try await httpRequest(port: api.port, "\(snapshots)/none").status == 404)
        let deleted = try await httpRequest(port: api.port, "DELETE", "\(snapshots)/first?children=true", timeout: 30)
        #expect(deleted.status == 204, "\(deleted.text)")
        let left = try await httpRequest(port: api.port, snapshots).json()["snapshots"] as? [Any]
        #expect(left?.isEmpty == true)
        #expect(!(try run("qemu-img", ["snapshot", "-l", guest.disk])).contains("second"))
    }

    @Test func aRawDiskIsAFieldErrorNamingItAndNothingIsMade() async throws {
        let guest = try defineSnapshotGuest(rawDisk: true)
        defer { removeSnapshotGuest(guest) }
        let api = try APITestServer(uri: uri)
        defer { Task { await api.stop() } }
        let refused = try await httpRequest(port: api.port, "POST", "/v1/domains/\(guest.name)/snapshots",
                                            body: Array(#"{"name":"s"}"#.utf8))
        #expect(refused.status == 422 && refused.text.contains("invalid-snapshot-request"), "\(refused.text)")
        let errors = try refused.json()["errors"] as? [[String: Any]] ?? []
        #expect(errors.map { $0["disk"] as? String } == ["vdb"], "\(refused.text)")
        #expect(try run("virsh", ["-c", uri, "snapshot-list", guest.name, "--name"]).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test func aSnapshotWithMemoryIsAnOperationSeenOnTheEventStream() async throws {
        let guest = try defineSnapshotGuest()
        defer { removeSnapshotGuest(guest) }
        _ = try run("virsh", ["-c", uri, "start", guest.name])
        let api = try APITestServer(uri: uri)
        defer { Task { await api.stop() } }
        let port = api.port
        let stream = try await onOwnThread {
            try SSEStreamClient(port: port, path: "/v1/events?type=operation&domain=\(guest.name)", timeout: 120)
        }
        let snapshots = "/v1/domains/\(guest.name)/snapshots"
        // Without memory, a running guest's internal snapshot is refused: QEMU's always has it.
        let diskOnly = try await httpRequest(port: port, "POST", snapshots, body: Array(#"{"name":"d","memory":false}"#.utf8))
        #expect(diskOnly.status == 409, "\(diskOnly.text)")

        let accepted = try await httpRequest(port: port, "POST", snapshots, body: Array(#"{"name":"live"}"#.utf8), timeout: 30)
        #expect(accepted.status == 202, "\(accepted.text)")
        let id = try #require(try accepted.json()["id"] as? String)
        #expect(try accepted.json()["kind"] as? String == "snapshot-create")
        let start = Date()
        #expect(try await httpRequest(port: port, "/v1/host").status == 200)
        print(String(format: "GET /v1/host while a snapshot with memory runs: %.1f ms", Date().timeIntervalSince(start) * 1000))

        let finished = try await finishedOperation(port, id)
        #expect(finished["state"] as? String == "succeeded", "\(finished)")
        let snapshot = (finished["result"] as? [String: Any])?["snapshot"] as? [String: Any]
        #expect(snapshot?["name"] as? String == "live" && snapshot?["memory"] as? Bool == true
                && snapshot?["state"] as? String == "running", "\(finished)")
        let states = try await onOwnThread { () -> [String] in
            var seen: [String] = []
            while seen.last != "succeeded", let frame = try stream.nextEvent() {
                let data = try frame.json()
                if data["id"] as? String == id { seen.append(data["state"] as? String ?? "?") }
            }
            return seen
        }
        #expect(states.first == "running" && states.last == "succeeded", "\(states)")
        #expect(try await httpRequest(port: port, "/v1/operations?domain=\(guest.name)").text.contains(id))

        // Revert to it, paused, as an operation (it loads the RAM): the guest comes back with
        // its RAM, paused; the same Idempotency-Key gets the same operation.
        let revert = { () async throws -> HTTPTestResponse in
            try await httpRequest(port: port, "POST", "\(snapshots)/live/revert", headers: [("Idempotency-Key", "revert-1")],
                                  body: Array(#"{"paused":true}"#.utf8), timeout: 60)
        }
        let reverted = try await revert()
        #expect(reverted.status == 202, "\(reverted.text)")
        #expect(try reverted.json()["kind"] as? String == "snapshot-revert")
        let revertID = try #require(try reverted.json()["id"] as? String)
        let revertDone = try await finishedOperation(port, revertID)
        #expect(revertDone["state"] as? String == "succeeded", "\(revertDone)")
        #expect(((revertDone["result"] as? [String: Any])?["snapshot"] as? [String: Any])?["name"] as? String == "live")
        #expect(try run("virsh", ["-c", uri, "domstate", guest.name]).contains("paused"))
        let replayed = try await revert()
        #expect(try replayed.json()["id"] as? String == revertID, "\(replayed.text)")
        #expect(replayed.headers["idempotent-replayed"] == "true")
        #expect(try await httpRequest(port: port, "DELETE", "\(snapshots)/live", timeout: 60).status == 204)
    }

    /// libvirt cannot abort QEMU's internal snapshot (no job is reported while savevm runs), so
    /// the cancel takes effect when it returns: the snapshot is deleted and the operation ends
    /// `cancelled`. 192 MiB of random RAM makes the snapshot take long enough (≈0.4 s on KVM)
    /// for the cancel to arrive while it runs.
    @Test func aCancelledSnapshotWithMemoryEndsCancelledAndLeavesNoSnapshot() async throws {
        let guest = try defineSnapshotGuest(filledMiB: 192)
        defer { removeSnapshotGuest(guest) }
        _ = try run("virsh", ["-c", uri, "start", guest.name])
        let api = try APITestServer(uri: uri)
        defer { Task { await api.stop() } }
        let port = api.port
        let snapshots = "/v1/domains/\(guest.name)/snapshots"
        let accepted = try await httpRequest(port: port, "POST", snapshots, body: Array(#"{"name":"halted"}"#.utf8), timeout: 30)
        #expect(accepted.status == 202, "\(accepted.text)")
        let id = try #require(try accepted.json()["id"] as? String)
        let cancel = try await httpRequest(port: port, "POST", "/v1/operations/\(id)/cancel")
        #expect(cancel.status == 202, "\(cancel.text)")
        #expect(try cancel.json()["cancel_requested"] as? Bool == true)
        let finished = try await finishedOperation(port, id)
        #expect(finished["state"] as? String == "cancelled" && finished["result"] is NSNull, "\(finished)")
        let again = try await httpRequest(port: port, "POST", "/v1/operations/\(id)/cancel")
        #expect(again.status == 409 && again.text.contains("operation-finished"), "\(again.text)")

        // Nothing of it stays: not in libvirt, not in the qcow2 file, and the guest still runs.
        #expect(try await httpRequest(port: port, "\(snapshots)/halted").status == 404)
        #expect(!(try run("virsh", ["-c", uri, "snapshot-list", guest.name, "--name"])).contains("halted"))
        let inFile = try run("qemu-img", ["snapshot", "-U", "-l", guest.disk])
        #expect(!inFile.contains("halted"), "\(inFile)")
        #expect(try run("virsh", ["-c", uri, "domstate", guest.name]).contains("running"))

        // The same guest still takes the snapshot when nobody cancels it.
        let kept = try await httpRequest(port: port, "POST", snapshots, body: Array(#"{"name":"kept"}"#.utf8), timeout: 30)
        let keptDone = try await finishedOperation(port, try #require(try kept.json()["id"] as? String))
        #expect(keptDone["state"] as? String == "succeeded", "\(keptDone)")
        #expect(try run("qemu-img", ["snapshot", "-U", "-l", guest.disk]).contains("kept"))
    }

    @Test func aManagedSaveIsAnOperationAndTheNextStartRestoresTheGuest() async throws {
        let guest = try defineSnapshotGuest()
        defer { removeSnapshotGuest(guest) }
        let api = try APITestServer(uri: uri)
        defer { Task { await api.stop() } }
        let port = api.port
        let save = "/v1/domains/\(guest.name)/save"
        // A guest that does not run has no RAM to save.
        let stopped = try await httpRequest(port: port, "POST", save)
        #expect(stopped.status == 409 && stopped.text.contains("invalid-state"), "\(stopped.text)")
        _ = try run("virsh", ["-c", uri, "start", guest.name])

        let accepted = try await httpRequest(port: port, "POST", save, timeout: 30)
        #expect(accepted.status == 202, "\(accepted.text)")
        let id = try #require(try accepted.json()["id"] as? String)
        #expect(try accepted.json()["kind"] as? String == "managed-save")
        let finished = try await finishedOperation(port, id)
        #expect(finished["state"] as? String == "succeeded", "\(finished)")
        #expect(try run("virsh", ["-c", uri, "domstate", guest.name]).contains("shut off"))
        #expect(try run("virsh", ["-c", uri, "dominfo", guest.name]).contains("Managed save:   yes"))

        let started = try await httpRequest(port: port, "POST", "/v1/domains/\(guest.name)/start", timeout: 60)
        #expect(started.status == 200, "\(started.text)")
        #expect(try run("virsh", ["-c", uri, "domstate", guest.name, "--reason"]).contains("running (restored)"))

        // Saved again, then the image removed: the next start boots afresh.
        let again = try await httpRequest(port: port, "POST", save, timeout: 30)
        _ = try await finishedOperation(port, try #require(try again.json()["id"] as? String))
        #expect(try await httpRequest(port: port, "DELETE", save).status == 204)
        #expect(try run("virsh", ["-c", uri, "dominfo", guest.name]).contains("Managed save:   no"))
        let none = try await httpRequest(port: port, "DELETE", save)
        #expect(none.status == 409, "\(none.text)")
    }

    @Test func aDiskOnlySnapshotLeavesAnOverlayOnTheOldFileAndQuiesceWithoutAnAgentIsRefused() async throws {
        let guest = try defineSnapshotGuest()
        defer { removeSnapshotGuest(guest) }
        let api = try APITestServer(uri: uri)
        defer { Task { await api.stop() } }
        let snapshots = "/v1/domains/\(guest.name)/snapshots"
        _ = try qemuIO(guest.disk, "write -P 0x33 0 1M")
        let made = try await httpRequest(port: api.port, "POST", snapshots,
                                         body: Array(#"{"name":"ext","disk_only":true}"#.utf8), timeout: 30)
        #expect(made.status == 201, "\(made.text)")
        #expect(try made.json()["disk_only"] as? Bool == true)
        let overlay = guest.root + "/disk.ext.qcow2"
        let info = try run("qemu-img", ["info", "--output=json", overlay])
        let image = try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any]
        #expect(image?["backing-filename"] as? String == guest.disk, "\(info)")
        #expect(try run("virsh", ["-c", uri, "domblklist", guest.name]).contains(overlay))
        let read = try qemuIO(overlay, "read -P 0x33 0 1M", readOnly: true)
        #expect(!read.contains("Pattern verification failed"), "\(read)")

        // quiesce needs a guest agent; this guest has none: 409, and no snapshot is made.
        _ = try run("virsh", ["-c", uri, "start", guest.name])
        let quiesced = try await httpRequest(port: api.port, "POST", snapshots,
                                             body: Array(#"{"name":"q","disk_only":true,"quiesce":true}"#.utf8), timeout: 30)
        #expect(quiesced.status == 409 && quiesced.text.contains("invalid-state"), "\(quiesced.text)")
        #expect(!FileManager.default.fileExists(atPath: guest.root + "/disk.ext.q.qcow2"))
        #expect(!(try run("virsh", ["-c", uri, "snapshot-list", guest.name, "--name"])).contains("q\n"))
        let both = try await httpRequest(port: api.port, "POST", snapshots,
                                         body: Array(#"{"name":"b","disk_only":true,"memory":true}"#.utf8))
        #expect(both.status == 422 && both.text.contains("/memory"), "\(both.text)")

        // Deleting it merges the overlay back (libvirt 9): the domain is on its old image again,
        // with the data written before, and no overlay is left orphaned.
        let deleted = try await httpRequest(port: api.port, "DELETE", "\(snapshots)/ext", timeout: 60)
        #expect(deleted.status == 204, "\(deleted.text)")
        let disks = try run("virsh", ["-c", uri, "domblklist", guest.name])
        #expect(disks.contains(guest.disk + "\n") || disks.hasSuffix(guest.disk))
        #expect(!FileManager.default.fileExists(atPath: overlay))
    }
}
