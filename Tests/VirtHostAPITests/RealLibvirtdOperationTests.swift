import Foundation
import Testing
import TestSupport

/// Operations on the real libvirtd: a volume clone watched on the event stream while the rest
/// of the API answers, a cancel, wipe-and-delete, and a libvirt job found running as
/// `unknown-job`. `qemu-io` writes and checks the data.
extension RealLibvirtdTests {
    /// The size of the volume cloned (MiB): large enough that the copy takes a moment. The
    /// sanitizer pass may set it smaller.
    static let cloneMiB = Int(ProcessInfo.processInfo.environment["VIRTHOST_TEST_CLONE_MIB"] ?? "") ?? 256

    /// A dir pool in a temporary allowed root, with `base.qcow2` full of the byte 0x5a.
    struct OperationFixture {
        let root: String
        let pool: String
        let path: String
        let api: APITestServer
        var volumes: String { "/v1/storage/pools/\(pool)/volumes" }
    }

    func makeOperationFixture() async throws -> OperationFixture {
        let root = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("virthost-ops-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let pool = "virthost-test-pool-\(UUID().uuidString.prefix(8).lowercased())"
        let api = try APITestServer(uri: uri, allowedDiskRoots: [root])
        let fixture = OperationFixture(root: root, pool: pool, path: root + "/pool", api: api)
        let created = try await httpRequest(port: api.port, "POST", "/v1/storage/pools", body: Array(
            #"{"name":"\#(pool)","type":"dir","path":"\#(fixture.path)"}"#.utf8), timeout: 30)
        try #require(created.status == 201, "\(created.text)")
        let base = try await httpRequest(port: api.port, "POST", fixture.volumes, body: Array(
            #"{"name":"base.qcow2","capacity_bytes":\#(Self.cloneMiB << 20),"format":"qcow2"}"#.utf8), timeout: 30)
        try #require(base.status == 201, "\(base.text)")
        _ = try run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 0 \(Self.cloneMiB)M", fixture.path + "/base.qcow2"])
        return fixture
    }

    func removeOperationFixture(_ fixture: OperationFixture) async {
        await fixture.api.stop()
        for name in ["overlay.qcow2", "copy.qcow2", "base.qcow2"] {
            _ = try? run("virsh", ["-c", uri, "vol-delete", name, "--pool", fixture.pool])
        }
        _ = try? run("virsh", ["-c", uri, "pool-destroy", fixture.pool])
        _ = try? run("virsh", ["-c", uri, "pool-undefine", fixture.pool])
        try? FileManager.default.removeItem(atPath: fixture.root)
    }

    /// Polls the operation until it has finished.
    func finishedOperation(_ port: UInt16, _ id: String, timeout: Double = 120) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let operation = try await httpRequest(port: port, "/v1/operations/\(id)").json()
            if operation["state"] as? String != "running" { return operation }
            try await Task.sleep(for: .milliseconds(50))
        }
        struct StillRunning: Error { let id: String }
        throw StillRunning(id: id)
    }

    @Test func aVolumeCloneIsAnOperationSeenOnTheEventStreamWhileTheAPIAnswers() async throws {
        let fixture = try await makeOperationFixture()
        let port = fixture.api.port
        do {
            let stream = try await onOwnThread { try SSEStreamClient(port: port, path: "/v1/events?type=operation", timeout: 120) }
            let key = [("Idempotency-Key", "clone-\(UUID().uuidString)")]
            let body = Array(#"{"name":"copy.qcow2"}"#.utf8)
            let accepted = try await httpRequest(port: port, "POST", "\(fixture.volumes)/base.qcow2/clone", headers: key,
                                                 body: body, timeout: 30)
            #expect(accepted.status == 202, "\(accepted.text)")
            let operation = try accepted.json()
            let id = try #require(operation["id"] as? String)
            #expect(accepted.headers["location"] == "/v1/operations/\(id)")
            #expect(operation["kind"] as? String == "volume-clone" && operation["state"] as? String == "running")
            #expect(operation["target"] as? [String: String] == ["pool": fixture.pool, "volume": "copy.qcow2"])

            // While the copy runs, the Host's thread is free: GET /v1/host answers at once.
            var latencies: [Double] = []
            var overlapped = false
            for _ in 0..<20 {
                let start = Date()
                #expect(try await httpRequest(port: port, "/v1/host").status == 200)
                let latency = Date().timeIntervalSince(start)
                let state = try await httpRequest(port: port, "/v1/operations/\(id)").json()["state"] as? String
                guard state == "running" else { break }
                latencies.append(latency)
                overlapped = true
            }
            print("GET /v1/host during a \(Self.cloneMiB) MiB clone: \(latencies.count) calls, max "
                  + String(format: "%.1f ms", (latencies.max() ?? 0) * 1000))
            #expect(overlapped, "the clone ended before GET /v1/host could be timed beside it")
            #expect((latencies.max() ?? 0) < 2.0)

            let finished = try await finishedOperation(port, id)
            #expect(finished["state"] as? String == "succeeded", "\(finished)")
            let result = (finished["result"] as? [String: Any])?["volume"] as? [String: Any]
            #expect(result?["name"] as? String == "copy.qcow2" && result?["format"] as? String == "qcow2")
            #expect(finished["finished_at"] is String && finished["error"] is NSNull)
            // The copy holds the data, and is no overlay on the source.
            let check = try run("qemu-io", ["-r", "-f", "qcow2", "-c", "read -P 0x5a 0 \(Self.cloneMiB)M",
                                            fixture.path + "/copy.qcow2"])
            #expect(!check.contains("Pattern verification failed") && check.contains("read"), "\(check)")
            #expect(!(try run("qemu-img", ["info", fixture.path + "/copy.qcow2"])).contains("backing file"))

            // Its events, on the stream: running first, succeeded last, each the operation.
            let states = try await onOwnThread { () -> [String] in
                var seen: [String] = []
                while seen.last != "succeeded", let frame = try stream.nextEvent() {
                    #expect(frame.event == "operation")
                    let data = try frame.json()
                    if data["id"] as? String == id { seen.append(data["state"] as? String ?? "?") }
                }
                return seen
            }
            #expect(states.first == "running" && states.last == "succeeded", "\(states)")

            // The same Idempotency-Key gives the same operation, not a second copy.
            let replay = try await httpRequest(port: port, "POST", "\(fixture.volumes)/base.qcow2/clone", headers: key,
                                               body: body, timeout: 30)
            let replayed = try replay.json()["id"] as? String
            #expect(replay.status == 202 && replayed == id)
            #expect(replay.headers["idempotent-replayed"] == "true")

            // A finished operation cannot be cancelled; the filters.
            let late = try await httpRequest(port: port, "POST", "/v1/operations/\(id)/cancel")
            #expect(late.status == 409 && late.text.contains("operation-finished"), "\(late.text)")
            func ids(_ query: String) async throws -> [String] {
                let list = try await httpRequest(port: port, "/v1/operations\(query)").json()
                return (list["operations"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }
            #expect(try await ids("").contains(id))
            #expect(try await ids("?state=succeeded").contains(id))
            #expect(!(try await ids("?state=running").contains(id)))
            #expect(!(try await ids("?domain=\(Self.guestName())").contains(id)))
            #expect(try await httpRequest(port: port, "/v1/operations?state=done").status == 400)
            #expect(try await httpRequest(port: port, "/v1/operations/\(UUID().uuidString)").status == 404)
            // A clone onto a name taken is refused before any operation starts.
            let taken = try await httpRequest(port: port, "POST", "\(fixture.volumes)/base.qcow2/clone", body: body)
            #expect(taken.status == 409 && taken.text.contains("storage-volume-exists"), "\(taken.text)")
            let bad = try await httpRequest(port: port, "POST", "\(fixture.volumes)/base.qcow2/clone",
                                            body: Array(#"{"name":"../x"}"#.utf8))
            #expect(bad.status == 422 && bad.text.contains("/name"), "\(bad.text)")
        } catch {
            await removeOperationFixture(fixture)
            throw error
        }
        await removeOperationFixture(fixture)
    }

    @Test func aCancelledCloneLeavesNoVolumeAndAWipeDeletesOnlyWhatNothingUses() async throws {
        let fixture = try await makeOperationFixture()
        let port = fixture.api.port
        do {
            let accepted = try await httpRequest(port: port, "POST", "\(fixture.volumes)/base.qcow2/clone",
                                                 body: Array(#"{"name":"copy.qcow2"}"#.utf8), timeout: 30)
            let id = try #require(try accepted.json()["id"] as? String)
            let cancel = try await httpRequest(port: port, "POST", "/v1/operations/\(id)/cancel")
            #expect(cancel.status == 202, "\(cancel.text)")
            #expect(try cancel.json()["cancel_requested"] as? Bool == true)
            let finished = try await finishedOperation(port, id)
            #expect(finished["state"] as? String == "cancelled", "\(finished)")
            #expect(!FileManager.default.fileExists(atPath: fixture.path + "/copy.qcow2"))
            #expect(!(try run("virsh", ["-c", uri, "vol-list", fixture.pool])).contains("copy.qcow2"))

            // The base under an overlay is not wiped: refused before anything is done.
            let overlay = try await httpRequest(port: port, "POST", fixture.volumes, body: Array(
                #"{"name":"overlay.qcow2","backing":{"pool":"\#(fixture.pool)","volume":"base.qcow2"}}"#.utf8), timeout: 30)
            #expect(overlay.status == 201, "\(overlay.text)")
            let refused = try await httpRequest(port: port, "DELETE", "\(fixture.volumes)/base.qcow2?wipe=true")
            #expect(refused.status == 409 && refused.text.contains("storage-volume-in-use"), "\(refused.text)")
            let intact = try run("qemu-io", ["-r", "-f", "qcow2", "-c", "read -P 0x5a 0 1M", fixture.path + "/base.qcow2"])
            #expect(!intact.contains("Pattern verification failed"), "\(intact)")

            for volume in ["overlay.qcow2", "base.qcow2"] {
                let wipe = try await httpRequest(port: port, "DELETE", "\(fixture.volumes)/\(volume)?wipe=true", timeout: 30)
                #expect(wipe.status == 202, "\(wipe.text)")
                let wipeID = try #require(try wipe.json()["id"] as? String)
                let done = try await finishedOperation(port, wipeID)
                #expect(done["state"] as? String == "succeeded" && done["kind"] as? String == "volume-wipe", "\(done)")
                #expect(!FileManager.default.fileExists(atPath: "\(fixture.path)/\(volume)"))
            }
        } catch {
            await removeOperationFixture(fixture)
            throw error
        }
        await removeOperationFixture(fixture)
    }

    /// A save into a FIFO whose reader never reads keeps a libvirt job running for as long as
    /// the test wants; a service started meanwhile (a restart) shows it as `unknown-job`.
    @Test func aLibvirtJobStartedBeforeTheServiceIsShownAsAnUnknownJob() async throws {
        let guest = Self.guestName()
        let root = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("virthost-job-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let fifo = root + "/save.fifo"
        #expect(mkfifo(fifo, 0o666) == 0)
        chmod(root, 0o755)
        chmod(fifo, 0o666)
        let xmlFile = root + "/guest.xml"
        try """
            <domain type='\(RealLibvirtd.virtType)'><name>\(guest)</name><memory unit='MiB'>64</memory>
            <os><type>hvm</type><boot dev='network'/></os><devices/></domain>
            """.write(toFile: xmlFile, atomically: true, encoding: .utf8)
        _ = try run("virsh", ["-c", uri, "create", xmlFile])
        let reader = try ChildProcess("sh", ["-c", "exec sleep 120 < '\(fifo)'"])
        let save = try ChildProcess("virsh", ["-c", uri, "save", guest, fifo])
        defer {
            reader.signal(SIGKILL)
            save.signal(SIGKILL)
            _ = reader.waitForExit(timeout: .seconds(10))
            _ = save.waitForExit(timeout: .seconds(10))
            removeGuest(guest)
            try? FileManager.default.removeItem(atPath: root)
        }
        var jobSeen = false
        for _ in 0..<100 where !jobSeen {
            jobSeen = !((try? run("virsh", ["-c", uri, "domjobinfo", guest])) ?? "").contains("None")
            if !jobSeen { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(jobSeen, "virsh save into the FIFO started no job")

        let api = try APITestServer(uri: uri)
        defer { Task { await api.stop() } }
        let adopted = try await api.api.operations.adoptRunningJobs()
        #expect(adopted.count == 1 && adopted.first?.kind == "unknown-job")
        let list = try await httpRequest(port: api.port, "/v1/operations?domain=\(guest)&state=running").json()
        let operations = list["operations"] as? [[String: Any]] ?? []
        #expect(operations.count == 1, "\(list)")
        let operation = try #require(operations.first)
        #expect(operation["kind"] as? String == "unknown-job")
        #expect((operation["target"] as? [String: String])?["domain"] == guest)
        // Asked again (a second look at start), the same job is not listed twice.
        #expect(try await api.api.operations.adoptRunningJobs().isEmpty)

        // The reader goes away: the save fails, libvirt's job ends, and so does the operation.
        reader.signal(SIGKILL)
        let finished = try await finishedOperation(api.port, try #require(operation["id"] as? String), timeout: 60)
        #expect(finished["state"] as? String != "running", "\(finished)")
        print("adopted job ended \(finished["state"] ?? "?"): \(finished["error"] ?? "")")
    }
}
