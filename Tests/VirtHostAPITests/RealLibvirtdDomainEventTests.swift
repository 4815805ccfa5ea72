import Foundation
import Testing
import TestSupport

/// The domain events beyond a guest's lifecycle, from the real libvirtd: metadata changed
/// through the service, a block job (a pull, started with virsh) run to its end, and a backup
/// job's completion with its statistics (libvirt emits job-completed for backups and
/// migrations; `virsh backup-begin` starts a push backup). The guest
/// agent's comings and goings are seen in `RealLibvirtdAgentTests`, where a guest OS runs.
extension RealLibvirtdTests {
    @Test func metadataChangesAndABlockJobShowOnTheStream() async throws {
        let name = Self.guestName()
        let root = try diskTestDirectory()
        defer {
            removeGuest(name)
            try? FileManager.default.removeItem(atPath: root)
        }
        // An overlay on a base image: the pull copies the base into the overlay.
        _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", root + "/base.qcow2", "16M"])
        _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", root + "/base.qcow2", "-F", "qcow2",
                                 root + "/overlay.qcow2"])
        let api = try APITestServer(uri: uri, allowedDiskRoots: [root])
        defer { Task { await api.stop() } }
        let stream = try await onOwnThread {
            try SSEStreamClient(port: api.port, path: "/v1/events?domain=\(name)&type=metadata-change,block-job,job-completed", timeout: 60)
        }
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["network"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},
                     "disks":[{"source":"\#(root)/overlay.qcow2","format":"qcow2"}]}}
            """#.utf8), timeout: 60)
        try #require(created.status == 201, "\(created.text)")

        #expect(try await DomainPatchEndpointTests.patch(api, name, #"{"labels":{"team":"storage"}}"#).status == 200)
        #expect(try await DomainPatchEndpointTests.patch(api, name, #"{"title":"pulled"}"#).status == 200)
        _ = try run("virsh", ["-c", uri, "blockpull", name, "vda", "--wait"])

        // Frames until the block job's (or the stream's end, or its time-out).
        let frames = try await onOwnThread { () -> [SSEFrame] in
            var frames: [SSEFrame] = []
            while let frame = try stream.next() {
                if frame.event != nil { frames.append(frame) }
                if frame.event == "block-job" { break }
            }
            return frames
        }
        let events = try frames.map { (kind: $0.event ?? "", data: try $0.json()) }
        let metadata = events.filter { $0.kind == "metadata-change" }.map(\.data)
        #expect(metadata.contains {
            $0["event"] as? String == "element" && $0["namespace"] as? String == "https://virthost.dev/xmlns/labels/1"
        }, "\(metadata)")
        #expect(metadata.contains { $0["event"] as? String == "title" }, "\(metadata)")
        let job = try #require(events.first { $0.kind == "block-job" }?.data, "no block-job event: \(events.map(\.kind))")
        #expect(job["event"] as? String == "completed")
        #expect(job["detail"] as? String == "pull")
        #expect(job["device"] as? String == "vda")
        #expect((job["domain"] as? [String: String])?["name"] == name)
        // The pull left the overlay standing alone.
        let info = try run("qemu-img", ["info", "-U", "--output=json", root + "/overlay.qcow2"])
        #expect(!info.contains("backing-filename"), "\(info)")

        // A push backup of the running guest (into a file libvirt names next to the disk): its
        // completion is a job-completed event carrying libvirt's final statistics.
        _ = try run("virsh", ["-c", uri, "backup-begin", name])
        let frame = try await onOwnThread { () -> SSEFrame? in
            while let frame = try stream.next() {
                if frame.event == "job-completed" { return frame }
            }
            return nil
        }
        let completed = try frame?.json()
        let statistics = try #require(completed?["job"] as? [String: Any], "no job-completed event")
        // VIR_DOMAIN_JOB_OPERATION_BACKUP is 9; the whole 16 MiB disk was processed.
        #expect(statistics["operation"] as? Int == 9, "\(statistics)")
        #expect(statistics["disk_total"] as? Int == 16 << 20, "\(statistics)")
        #expect(statistics["disk_processed"] as? Int == statistics["disk_total"] as? Int, "\(statistics)")
        #expect((completed?["domain"] as? [String: String])?["name"] == name)
    }
}
