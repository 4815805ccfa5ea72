import Foundation
import Testing
import TestSupport
import VirtHost
#if canImport(Glibc)
import Glibc
#endif

/// The second libvirt host the migration tests move guests to: `scripts/second-host.sh up`
/// makes it (a libvirtd in a network and mount namespace of its own) and `scripts/test.sh`
/// passes what it prints.
enum SecondHost {
    static let environment = ProcessInfo.processInfo.environment
    /// Host B as the service on host A reaches it.
    static let uri = environment["VIRTHOST_TEST_SECOND_HOST_URI"]
    /// Host A as host B's libvirtd reaches it (for peer-to-peer migrations back).
    static let backURI = environment["VIRTHOST_TEST_SECOND_HOST_BACK_URI"] ?? ""
    /// Where B's migration stream to A goes (A advertises a name that means B itself there).
    static let backMigrateURI = environment["VIRTHOST_TEST_SECOND_HOST_BACK_MIGRATE_URI"] ?? ""
    /// A directory both hosts see as the same directory.
    static let sharedDirectory = environment["VIRTHOST_TEST_SECOND_HOST_SHARED_DIR"] ?? "/srv/vh-shared"
    /// A path each host has its own directory at.
    static let localDirectory = environment["VIRTHOST_TEST_SECOND_HOST_LOCAL_DIR"] ?? "/srv/vh-local"
    /// B's directory at ``localDirectory``, as A sees it.
    static let localDirectoryOfB = environment["VIRTHOST_TEST_SECOND_HOST_LOCAL_DIR_B"] ?? ""
    /// B's state directory: its libvirtd's pid file, whose namespaces a service beside B enters.
    static let stateDirectory = environment["VIRTHOST_TEST_SECOND_HOST_DIR"] ?? "/tmp/virthost-second-host"
    /// B's own address, where a service beside B listens.
    static let address = "10.250.0.2"
    static let enabled = RealLibvirtd.uri != nil && uri != nil
}

extension RealLibvirtdTests {
/// Live migration between two real libvirt daemons, through the service on each: a guest
/// moved there and back with its events, shared and copied disks, the check's findings, a
/// cancel and the tuning of a slowed-down migration, post-copy, and bad destinations. After
/// each, `virsh` on both hosts says where the guest is.
///
/// Nested in `RealLibvirtdTests`, whose `.serialized` reaches it: it never runs beside the tests
/// that kill libvirtd.
@Suite(.paced, .enabled(if: SecondHost.enabled, "VIRTHOST_TEST_SECOND_HOST_URI names a second libvirtd (scripts/second-host.sh up)"),
       .serialized)
struct RealLibvirtdMigrationTests {
    let a = RealLibvirtd.uri ?? "qemu:///system"
    let b = SecondHost.uri ?? ""

    // MARK: Fixtures

    static func guestName() -> String { "virthost-mig-\(UUID().uuidString.prefix(8).lowercased())" }

    /// On this kind of nested KVM a plain host-passthrough CPU fails at start; without KVM, TCG's default.
    static var cpu: String {
        RealLibvirtd.virtType == "kvm"
            ? "<cpu mode='host-passthrough'><feature policy='disable' name='arch-capabilities'/></cpu>" : ""
    }

    /// A guest on A with no OS: `devices` and `extra` go into its XML; `filledMiB` of random
    /// bytes are loaded into its RAM (so that a migration has something to move slowly).
    func defineGuest(_ name: String, memoryMiB: Int = 64, devices: String = "", cpu: String = Self.cpu,
                     filledMiB: Int = 0, start: Bool = true, on uri: String? = nil) throws -> String {
        let root = "/tmp/\(name)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o755)
        var filler = ""
        if filledMiB > 0 {
            // /tmp is the same directory in B's mount namespace: the destination's QEMU loads it too.
            let fill = root + "/fill.bin"
            _ = try run("dd", ["if=/dev/urandom", "of=\(fill)", "bs=1M", "count=\(filledMiB)", "status=none"])
            chmod(fill, 0o644)
            filler = "<qemu:commandline><qemu:arg value='-device'/><qemu:arg value='loader,file=\(fill),addr=0x2000000'/></qemu:commandline>"
        }
        let xml = """
            <domain type='\(RealLibvirtd.virtType)' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
            <name>\(name)</name><memory unit='MiB'>\(memoryMiB)</memory><vcpu>1</vcpu>
            <os><type arch='x86_64' machine='pc'>hvm</type></os>\(cpu)<on_crash>destroy</on_crash>
            <devices><serial type='pty'><target port='0'/></serial><memballoon model='none'/>\(devices)</devices>\(filler)
            </domain>
            """
        try xml.write(toFile: root + "/guest.xml", atomically: true, encoding: .utf8)
        _ = try run("virsh", ["-c", uri ?? a, "define", root + "/guest.xml"])
        if start { _ = try run("virsh", ["-c", uri ?? a, "start", name]) }
        return root
    }

    /// Removes the guest from both hosts, and its files.
    func removeGuest(_ name: String) {
        for uri in [a, b] {
            _ = try? run("virsh", ["-c", uri, "destroy", name])
            _ = try? run("virsh", ["-c", uri, "undefine", name])
        }
        try? FileManager.default.removeItem(atPath: "/tmp/\(name)")
    }

    /// `virsh domstate` on the host, or nil when it has no such domain.
    func state(_ name: String, on uri: String) -> String? {
        (try? run("virsh", ["-c", uri, "domstate", name]))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func allDomains(_ uri: String) throws -> String { try run("virsh", ["-c", uri, "list", "--all", "--name"]) }

    static func query(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    func check(_ port: UInt16, _ name: String, destination: String, copyStorage: String = "none") async throws -> [String: Any] {
        let response = try await httpRequest(
            port: port, "/v1/domains/\(name)/migration-check?destination=\(Self.query(destination))&copy_storage=\(copyStorage)",
            timeout: 60)
        #expect(response.status == 200, "\(response.text)")
        return try response.json()
    }

    func migrate(_ port: UInt16, _ name: String, _ body: String) async throws -> (status: Int, json: [String: Any]) {
        let response = try await httpRequest(port: port, "POST", "/v1/domains/\(name)/migrate", body: Array(body.utf8),
                                             timeout: 60)
        return (response.status, try response.json())
    }

    func finished(_ port: UInt16, host: String = "127.0.0.1", _ id: String, timeout: Double = 180) async throws
        -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let operation = try await httpRequest(port: port, host: host, "/v1/operations/\(id)").json()
            if operation["state"] as? String != "running" { return operation }
            try await Task.sleep(for: .milliseconds(100))
        }
        struct StillRunning: Error { let id: String }
        throw StillRunning(id: id)
    }

    /// Waits until the running migration has moved some memory: it is really under way.
    func underWay(_ port: UInt16, _ id: String) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let operation = try await httpRequest(port: port, "/v1/operations/\(id)").json()
            let memory = (operation["progress"] as? [String: Any])?["memory"] as? [String: Any]
            if operation["state"] as? String != "running" || ((memory?["processed"] as? Int) ?? 0) > 0 { return operation }
            try await Task.sleep(for: .milliseconds(50))
        }
        struct NotUnderWay: Error {}
        throw NotUnderWay()
    }

    static func codes(_ check: [String: Any]) -> Set<String> {
        Set(((check["problems"] as? [[String: Any]]) ?? []).compactMap { $0["code"] as? String })
    }

    func servers() throws -> (a: APITestServer, b: APITestServer) {
        let operations = Operations.Configuration(progressInterval: .milliseconds(100))
        return (try APITestServer(uri: a, operations: operations), try APITestServer(uri: b, operations: operations))
    }

    // MARK: Tests

    @Test func aRunningGuestMovesToTheSecondHostAndBackWatchedOnTheEventStream() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        _ = try defineGuest(name)
        let (serviceA, serviceB) = try servers()
        defer { Task { await serviceA.stop(); await serviceB.stop() } }
        let stream = try await onOwnThread { [port = serviceA.port] in
            try SSEStreamClient(port: port, path: "/v1/events?domain=\(name)", timeout: 120)
        }

        // The check: everything fits, and nothing moved to find out.
        let plan = try await check(serviceA.port, name, destination: b)
        #expect(plan["possible"] as? Bool == true, "\(plan)")
        #expect((plan["problems"] as? [Any])?.isEmpty == true)
        #expect((plan["cpu"] as? [String: Any])?["compatible"] as? Bool == true, "\(plan)")
        let memory = try #require(plan["memory"] as? [String: Any])
        #expect(memory["needed_mb"] as? Int == 64 && ((memory["destination_free_mb"] as? Int) ?? 0) > 64, "\(memory)")
        #expect((plan["disks"] as? [Any])?.isEmpty == true && (plan["interfaces"] as? [Any])?.isEmpty == true)
        #expect(plan["name_conflict"] as? Bool == false)
        #expect((plan["migratable_xml"] as? String)?.contains("<name>\(name)</name>") == true)
        #expect(!(try allDomains(b)).contains(name) && state(name, on: a) == "running")

        let started = try await migrate(serviceA.port, name, #"{"destination":"\#(b)","max_downtime_ms":500}"#)
        #expect(started.status == 202, "\(started.json)")
        let id = try #require(started.json["id"] as? String)
        #expect(started.json["kind"] as? String == "migration")
        let done = try await finished(serviceA.port, id)
        #expect(done["state"] as? String == "succeeded", "\(done)")
        let result = try #require((done["result"] as? [String: Any])?["migration"] as? [String: Any], "\(done)")
        #expect(result["destination"] as? String == b && result["domain"] as? String == name)
        #expect(result["persistent_on_destination"] as? Bool == true && result["source_undefined"] as? Bool == true)
        #expect(result["downtime_ms"] is Int && ((result["transferred_bytes"] as? Int) ?? 0) > 0, "\(result)")

        // virsh on each side agrees: it runs on B, defined there, and A has forgotten it.
        #expect(state(name, on: b) == "running")
        #expect(state(name, on: a) == nil)
        #expect(try run("virsh", ["-c", b, "dominfo", name]).contains("Persistent:     yes"))
        #expect(try await httpRequest(port: serviceA.port, "/v1/domains/\(name)").status == 404)
        #expect(try await httpRequest(port: serviceB.port, "/v1/domains/\(name)").status == 200)

        // A's stream: the operation from running to succeeded with progress between, libvirt's
        // migration passes, the guest stopped as migrated, and the job's statistics.
        let frames = try await onOwnThread { () -> [SSEFrame] in
            var frames: [SSEFrame] = []
            while let frame = try stream.nextEvent() {
                guard frame.event != nil else { continue }
                frames.append(frame)
                if frame.event == "operation", try frame.json()["state"] as? String == "succeeded" { break }
            }
            return frames
        }
        let seen = try frames.map { (event: $0.event ?? "", data: try $0.json()) }
        let operations = seen.filter { $0.event == "operation" }.map(\.data)
        #expect(operations.first?["state"] as? String == "running" && operations.last?["state"] as? String == "succeeded")
        #expect(seen.contains { $0.event == "migration-iteration" && (($0.data["iteration"] as? Int) ?? 0) >= 1 },
                "\(seen.map(\.event))")
        #expect(seen.contains { $0.event == "lifecycle" && $0.data["event"] as? String == "stopped"
                    && $0.data["detail"] as? String == "migrated" }, "\(seen.map(\.event))")
        let completed = seen.first { $0.event == "job-completed" }?.data["job"] as? [String: Any]
        #expect(completed?["downtime"] as? Int == result["downtime_ms"] as? Int, "\(String(describing: completed))")

        // And back, through a virthostd running beside B (in its network and mount namespaces,
        // as a service runs beside its libvirtd): what it checks is what B's libvirtd reaches.
        let pid = try String(contentsOfFile: SecondHost.stateDirectory + "/libvirtd.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let beside = try await onOwnThread {
            try ServiceProcess(arguments: ["--uri", "qemu:///system", "--listen", "\(SecondHost.address):0", "--insecure-no-auth"],
                               wrapper: ["/usr/bin/nsenter", "-t", pid, "-m", "-n", "--"])
        }
        defer { _ = beside.stop() }
        let body = #"{"destination":"\#(SecondHost.backURI)","destination_uri":"\#(SecondHost.backMigrateURI)"}"#
        let back = try await httpRequest(port: beside.port, host: SecondHost.address, "POST", "/v1/domains/\(name)/migrate",
                                         body: Array(body.utf8), timeout: 60)
        #expect(back.status == 202, "\(back.text)")
        let home = try await finished(beside.port, host: SecondHost.address, try #require(try back.json()["id"] as? String))
        #expect(home["state"] as? String == "succeeded", "\(home)")
        #expect(state(name, on: a) == "running" && state(name, on: b) == nil)
    }

    @Test func sharedDisksStayAndLocalOnesAreCopiedWithTheirData() async throws {
        let name = Self.guestName()
        let shared = "\(SecondHost.sharedDirectory)/\(name).qcow2"
        let local = "\(SecondHost.localDirectory)/\(name).qcow2"
        let copy = "\(SecondHost.localDirectoryOfB)/\(name).qcow2"
        defer {
            removeGuest(name)
            for path in [shared, local, copy] { try? FileManager.default.removeItem(atPath: path) }
        }
        for path in [shared, local] {
            _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", path, "16M"])
            chmod(path, 0o666)
        }
        // Written before the move; read back from the destination's copy after it.
        _ = try run("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 0 1M", local])
        let disks = """
            <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='\(shared)'/>
            <target dev='vda' bus='virtio'/></disk>
            <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='\(local)'/>
            <target dev='vdb' bus='virtio'/></disk>
            """
        _ = try defineGuest(name, devices: disks)
        let (serviceA, serviceB) = try servers()
        defer { Task { await serviceA.stop(); await serviceB.stop() } }

        // Told apart by what each libvirt sees at the path, not by the path.
        let plain = try await check(serviceA.port, name, destination: b)
        #expect(plain["possible"] as? Bool == false && Self.codes(plain) == ["disk-not-shared"], "\(plain)")
        let planned = try #require(plain["disks"] as? [[String: Any]])
        let vda = planned.first { $0["target"] as? String == "vda" }, vdb = planned.first { $0["target"] as? String == "vdb" }
        #expect(vda?["shared"] as? Bool == true && vda?["action"] as? String == "none", "\(planned)")
        #expect(vdb?["shared"] as? Bool == false && vdb?["action"] as? String == "refuse", "\(planned)")
        let copying = try await check(serviceA.port, name, destination: b, copyStorage: "all")
        #expect(copying["possible"] as? Bool == true, "\(copying)")
        let copied = (copying["disks"] as? [[String: Any]])?.first { $0["target"] as? String == "vdb" }
        #expect(copied?["action"] as? String == "copy", "\(String(describing: copied))")
        #expect(!FileManager.default.fileExists(atPath: copy), "the check made the destination's volume")

        // Without copy_storage the migration is refused with the same problem, and nothing moves.
        let refused = try await migrate(serviceA.port, name, #"{"destination":"\#(b)"}"#)
        #expect(refused.status == 409 && refused.json["type"] as? String == "https://virthost.dev/problems/migration-refused",
                "\(refused.json)")
        #expect(state(name, on: a) == "running" && state(name, on: b) == nil)

        let started = try await migrate(serviceA.port, name, #"{"destination":"\#(b)","copy_storage":"all"}"#)
        #expect(started.status == 202, "\(started.json)")
        let done = try await finished(serviceA.port, try #require(started.json["id"] as? String))
        #expect(done["state"] as? String == "succeeded", "\(done)")
        #expect(state(name, on: b) == "running" && state(name, on: a) == nil)
        // B's own file at the local path holds the data; the shared disk is the same file still.
        let read = try run("qemu-io", ["-r", "-U", "-f", "qcow2", "-c", "read -P 0xab 0 1M", copy])
        #expect(read.contains("read 1048576/1048576") && !read.contains("Pattern verification failed"), "\(read)")
        let xml = try run("virsh", ["-c", b, "dumpxml", name])
        #expect(xml.contains(shared) && xml.contains(local))
    }

    @Test func theCheckReportsConflictsMissingBridgesAndCPUsAndChangesNothing() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        // A bridge only A has, a CPU feature B's hypervisor lacks, and a guest of that name on B.
        let cpu = "<cpu mode='custom' match='exact'><model>486</model><feature policy='require' name='la57'/></cpu>"
        _ = try defineGuest(name, devices: "<interface type='bridge'><mac address='52:54:00:4d:49:47'/><source bridge='vhbr0'/><model type='virtio'/></interface>",
                            cpu: cpu, start: false)
        _ = try defineGuest(name, cpu: "", start: false, on: b)
        let (serviceA, serviceB) = try servers()
        defer { Task { await serviceA.stop(); await serviceB.stop() } }
        let before = (try allDomains(a), try allDomains(b), try run("virsh", ["-c", a, "dumpxml", name]))

        let plan = try await check(serviceA.port, name, destination: b)
        #expect(plan["possible"] as? Bool == false)
        #expect(Self.codes(plan) == ["not-running", "name-conflict", "cpu-incompatible", "interface-missing"], "\(plan)")
        #expect(plan["name_conflict"] as? Bool == true)
        #expect((plan["cpu"] as? [String: Any])?["compatible"] as? Bool == false)
        let interface = (plan["interfaces"] as? [[String: Any]])?.first
        #expect(interface?["source"] as? String == "vhbr0" && interface?["type"] as? String == "bridge"
                && interface?["present_on_destination"] as? Bool == false, "\(String(describing: interface))")

        // The bridge B has is found there; the guest of that name goes, the conflict with it.
        _ = try run("virsh", ["-c", b, "undefine", name])
        let refused = try await migrate(serviceA.port, name, #"{"destination":"\#(b)"}"#)
        #expect(refused.status == 409, "\(refused.json)")
        let problems = ((refused.json["problems"] as? [[String: Any]]) ?? []).compactMap { $0["code"] as? String }
        #expect(Set(problems) == ["not-running", "cpu-incompatible", "interface-missing"], "\(refused.json)")
        let after = (try allDomains(a), try run("virsh", ["-c", a, "dumpxml", name]))
        #expect(after.0 == before.0 && after.1 == before.2)
        _ = serviceB
    }

    @Test func aSlowedMigrationIsTunedThenCancelledAndTheGuestRunsOnUnharmed() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        _ = try defineGuest(name, memoryMiB: 256, filledMiB: 160)
        let (serviceA, serviceB) = try servers()
        defer { Task { await serviceA.stop(); await serviceB.stop() } }
        let port = serviceA.port

        let started = try await migrate(port, name, #"{"destination":"\#(b)","bandwidth_mib_s":1}"#)
        #expect(started.status == 202, "\(started.json)")
        let id = try #require(started.json["id"] as? String)
        let running = try await underWay(port, id)
        #expect(running["state"] as? String == "running", "\(running)")
        let progress = running["progress"] as? [String: Any]
        #expect((progress?["memory"] as? [String: Any])?["total"] as? Int ?? 0 > 0 && progress?["phase"] as? String == "memory",
                "\(String(describing: progress))")

        // The migration runs on its own connection: the Host's thread answers meanwhile.
        var slowest = 0.0
        for _ in 0..<10 {
            let start = Date()
            #expect(try await httpRequest(port: port, "/v1/host").status == 200)
            #expect(try await httpRequest(port: port, "/v1/domains/\(name)").status == 200)
            slowest = max(slowest, Date().timeIntervalSince(start))
        }
        #expect(slowest < 1.0, "GET /v1/host and the domain took \(slowest) s during a migration")

        // Tuned while it runs; post-copy was not asked for.
        let postcopy = try await httpRequest(port: port, "POST", "/v1/domains/\(name)/migration/postcopy", timeout: 30)
        let postcopyType = try postcopy.json()["type"] as? String
        #expect(postcopy.status == 409 && postcopyType == "https://virthost.dev/problems/postcopy-not-enabled",
                "\(postcopy.text)")
        let tuned = try await httpRequest(port: port, "POST", "/v1/domains/\(name)/migration/tuning",
                                          body: Array(#"{"bandwidth_mib_s":2,"max_downtime_ms":400}"#.utf8), timeout: 30)
        let tunedID = try tuned.json()["id"] as? String
        #expect(tuned.status == 200 && tunedID == id, "\(tuned.text)")
        #expect(try run("virsh", ["-c", a, "migrate-getspeed", name]).trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(try run("virsh", ["-c", a, "migrate-getmaxdowntime", name]).trimmingCharacters(in: .whitespacesAndNewlines) == "400")

        let cancel = try await httpRequest(port: port, "POST", "/v1/operations/\(id)/cancel", timeout: 30)
        #expect(cancel.status == 202, "\(cancel.text)")
        let done = try await finished(port, id)
        #expect(done["state"] as? String == "cancelled", "\(done)")
        #expect(state(name, on: a) == "running")
        #expect(!(try allDomains(b)).contains(name))
        let after = try await httpRequest(port: port, "POST", "/v1/domains/\(name)/migration/tuning",
                                          body: Array(#"{"bandwidth_mib_s":5}"#.utf8), timeout: 30)
        let afterType = try after.json()["type"] as? String
        #expect(after.status == 409 && afterType == "https://virthost.dev/problems/not-migrating", "\(after.text)")
        _ = serviceB
    }

    @Test func aMigrationSwitchedToPostCopyEndsOnTheDestination() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        _ = try defineGuest(name, memoryMiB: 256, filledMiB: 160)
        let (serviceA, serviceB) = try servers()
        defer { Task { await serviceA.stop(); await serviceB.stop() } }

        let started = try await migrate(serviceA.port, name, #"{"destination":"\#(b)","bandwidth_mib_s":2,"postcopy":true}"#)
        #expect(started.status == 202, "\(started.json)")
        let id = try #require(started.json["id"] as? String)
        _ = try await underWay(serviceA.port, id)
        let switched = try await httpRequest(port: serviceA.port, "POST", "/v1/domains/\(name)/migration/postcopy", timeout: 30)
        #expect(switched.status == 200, "\(switched.text)")
        let done = try await finished(serviceA.port, id)
        #expect(done["state"] as? String == "succeeded", "\(done)")
        let result = (done["result"] as? [String: Any])?["migration"] as? [String: Any]
        #expect(result?["postcopy"] as? Bool == true, "\(done)")
        #expect(state(name, on: b) == "running" && state(name, on: a) == nil)
        _ = serviceB
    }

    @Test func badDestinationsAreRefusedClearlyAndNothingMoves() async throws {
        let name = Self.guestName()
        defer { removeGuest(name) }
        _ = try defineGuest(name)
        let service = try APITestServer(uri: a, migration: .init(checkTimeout: .seconds(2)))
        defer { Task { await service.stop() } }
        let port = service.port

        // Malformed: field errors with the pointer, and the query's parameter named.
        for destination in ["qemu+tcp://host-b/system;reboot", "qemu:///system", "qemu+carrier://b/system", "host-b"] {
            let refused = try await migrate(port, name, #"{"destination":"\#(destination)"}"#)
            #expect(refused.status == 422 && refused.json["type"] as? String
                    == "https://virthost.dev/problems/invalid-migration-request", "\(destination): \(refused.json)")
            let pointers = ((refused.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["pointer"] as? String }
            #expect(pointers == ["/destination"], "\(refused.json)")
            let query = try await httpRequest(port: port, "/v1/domains/\(name)/migration-check?destination=\(Self.query(destination))")
            let parameter = try query.json()["parameter"] as? String
            #expect(query.status == 400 && parameter == "destination", "\(query.text)")
        }
        let stream = try await migrate(port, name, #"{"destination":"\#(b)","destination_uri":"http://10.0.0.1"}"#)
        #expect(stream.status == 422, "\(stream.json)")

        // Unreachable (nothing listens there), the source itself, and a libvirt that never answers.
        let refusedConnection = try await check(port, name, destination: "qemu+tcp://127.0.0.1:1/system")
        #expect(Self.codes(refusedConnection) == ["destination-unreachable"], "\(refusedConnection)")
        #expect(((refusedConnection["problems"] as? [[String: Any]])?.first?["detail"] as? String)?
            .contains("Connection refused") == true, "\(refusedConnection)")
        let itself = try await check(port, name, destination: "qemu+unix:///system")
        #expect(Self.codes(itself).contains("same-host") && Self.codes(itself).contains("name-conflict"), "\(itself)")
        let silent = try SilentListener()
        defer { silent.close() }
        let start = Date()
        let hung = try await check(port, name, destination: "qemu+tcp://127.0.0.1:\(silent.port)/system")
        #expect(Self.codes(hung) == ["destination-unreachable"] && Date().timeIntervalSince(start) < 10, "\(hung)")
        let refused = try await migrate(port, name, #"{"destination":"qemu+tcp://127.0.0.1:1/system"}"#)
        #expect(refused.status == 409, "\(refused.json)")

        // A destination outside --migration-destination.
        let limited = try APITestServer(uri: a, migration: .init(allowedDestinations: ["qemu+tls://"]))
        defer { Task { await limited.stop() } }
        let forbidden = try await migrate(limited.port, name, #"{"destination":"\#(b)"}"#)
        #expect(forbidden.status == 403 && forbidden.json["type"] as? String
                == "https://virthost.dev/problems/migration-destination-not-allowed", "\(forbidden.json)")
        let domainsOfB = try allDomains(b)
        #expect(state(name, on: a) == "running" && !domainsOfB.contains(name))
        let operations = try await httpRequest(port: port, "/v1/operations?domain=\(name)").json()["operations"] as? [Any]
        #expect(operations?.isEmpty == true, "a refused migration left an operation: \(String(describing: operations))")
    }
}

}

/// A TCP port that accepts connections (the kernel completes them) and never says a word: a
/// libvirt there waits for an answer that never comes.
struct SilentListener {
    let descriptor: Int32
    let port: UInt16

    init() throws {
        let opened = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        descriptor = opened
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(opened, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        struct Failed: Error {}
        guard bound == 0, listen(opened, 8) == 0 else { throw Failed() }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(opened, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
    }

    func close() { _ = Glibc.close(descriptor) }
}
