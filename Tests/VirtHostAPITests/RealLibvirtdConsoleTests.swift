import Foundation
import Testing
import TestSupport

/// The serial console over WebSocket against the real libvirtd, read by Python's `websockets`
/// client: a 64 MiB guest with no OS and `serial_bios` shows SeaBIOS's banner.
extension RealLibvirtdTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"] != nil,
                   "VIRTHOST_TEST_PYTHON names a Python with websockets"))
    func theSerialConsoleShowsSeaBIOSAndEndsWithTheDomain() async throws {
        let python = try #require(ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"])
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"],"serial_bios":true,"boot_menu":true},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"}},"start":false}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        #expect(try run("virsh", ["-c", uri, "dumpxml", name]).contains("<bios useserial='yes'/>"))

        // Not a WebSocket upgrade: refused before the console is touched.
        let plain = try await httpRequest(port: api.port, "/v1/domains/\(name)/console/serial")
        #expect(plain.status == 426)

        let port = api.port
        let output = try await onOwnThread { try run(python, [Fixtures.path("console_client.py"), String(port), name]) }
        await api.stop()
        let line = try #require(output.split(separator: "\n").last, "console_client.py printed nothing")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(output)")
        #expect(seen["shut_off_status"] as? Int == 409)
        #expect(seen["shut_off_type"] as? String == "https://virthost.dev/problems/invalid-state")
        #expect(seen["no_device_status"] as? Int == 404, "\(seen["no_device_type"] ?? "")")
        #expect(seen["no_device_type"] as? String == "https://virthost.dev/problems/console-device-not-found")
        #expect(seen["start_paused"] as? Int == 200)
        #expect(seen["resume"] as? Int == 200)
        #expect(seen["seabios"] as? Bool == true, "\(seen["first_output"] ?? "")")
        #expect(seen["boot_menu"] as? Bool == true, "ESC typed into the console opened SeaBIOS's boot menu: \(seen["menu_output"] ?? "")")
        #expect(seen["second_status"] as? Int == 409)
        #expect(seen["second_type"] as? String == "https://virthost.dev/problems/console-busy")
        #expect(seen["details_status"] as? Int == 200)
        #expect((seen["details_seconds"] as? Double ?? 99) < 2)
        #expect(seen["first_close"] as? Int == 1000, "the session taken over with force closes")
        #expect(seen["reopen_status"] as? Int == 101, "a session whose client left gives the console back")
        #expect(seen["destroy"] as? Int == 200)
        #expect(seen["destroyed_close"] as? Int == 1000)
        #expect((seen["destroyed_reason"] as? String)?.isEmpty == false)
    }
}

/// The VNC display over WebSocket against the real libvirtd, spoken to in RFB by Python's
/// strict `websockets` client.
extension RealLibvirtdTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"] != nil,
                   "VIRTHOST_TEST_PYTHON names a Python with websockets"))
    func theVNCDisplayCompletesTheRFBHandshakeAndSendsAFramebufferUpdate() async throws {
        let python = try #require(ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"])
        let name = Self.guestName()
        defer { removeGuest(name) }
        let api = try APITestServer(uri: uri)
        // The default display: VNC on 127.0.0.1.
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"]},
                     "cpu":\#(RealLibvirtd.startableCPU)},"start":false}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        let url = "ws://127.0.0.1:\(api.port)/v1/domains/\(name)/console/vnc"

        let shutOff = try await vncClient(python, url)
        #expect(shutOff["status"] as? Int == 409)
        #expect(shutOff["type"] as? String == "https://virthost.dev/problems/invalid-state")
        let plain = try await httpRequest(port: api.port, "/v1/domains/\(name)/console/vnc")
        #expect(plain.status == 426)

        let started = try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/start", timeout: 60)
        #expect(started.status == 200, "\(started.text)")
        let seen = try await vncClient(python, url)
        await api.stop()
        #expect(seen["status"] as? Int == 101)
        #expect(seen["subprotocol"] as? String == "binary")
        #expect(seen["version"] as? String == "RFB 003.008\n")
        #expect((seen["security_types"] as? [Int])?.contains(1) == true, "security type None is offered")
        #expect(seen["security_result"] as? Int == 0)
        #expect((seen["width"] as? Int ?? 0) > 0 && (seen["height"] as? Int ?? 0) > 0)
        #expect(seen["update_type"] as? Int == 0, "a FramebufferUpdate answers the request")
        #expect((seen["rectangles"] as? Int ?? 0) >= 1)

        // A running guest with no display: 404, named for the device.
        let headless = Self.guestName()
        defer { removeGuest(headless) }
        let api2 = try APITestServer(uri: uri)
        let createdHeadless = try await httpRequest(port: api2.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(headless)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"]},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"}},"start":true}
            """#.utf8), timeout: 60)
        #expect(createdHeadless.status == 201, "\(createdHeadless.text)")
        let none = try await vncClient(python, "ws://127.0.0.1:\(api2.port)/v1/domains/\(headless)/console/vnc")
        await api2.stop()
        #expect(none["status"] as? Int == 404)
        #expect(none["type"] as? String == "https://virthost.dev/problems/console-device-not-found")
    }

    /// Runs `vnc_client.py` and returns the JSON object it printed.
    func vncClient(_ python: String, _ url: String, headers: [String] = []) async throws -> [String: Any] {
        let output = try await onOwnThread { try run(python, [Fixtures.path("vnc_client.py"), url] + headers) }
        let line = try #require(output.split(separator: "\n").last, "vnc_client.py printed nothing")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(output)")
    }
}

/// The serial console's log, kept by libvirt's virtlogd in the console-log directory.
extension RealLibvirtdTests {
    @Test func theConsoleLogHoldsSeaBIOSsBannerAfterBoot() async throws {
        let name = Self.guestName(), outside = Self.guestName()
        let directory = "/var/lib/libvirt/images/virthost-consolelog-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer {
            removeGuest(name)
            removeGuest(outside)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let api = try APITestServer(uri: uri, consoleLogDirectory: directory)
        for (guest, serial) in [(name, "{}"), (outside, #"{"log_file":"/etc/hostname"}"#)] {
            let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
                {"spec":{"name":"\#(guest)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"],"serial_bios":true},
                         "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},"serial":\#(serial)},"start":false}
                """#.utf8), timeout: 60)
            #expect(created.status == 201, "\(created.text)")
        }
        #expect(try run("virsh", ["-c", uri, "dumpxml", name]).contains("<log file='\(directory)/\(name)-serial0.log' append='on'/>"))

        let notYet = try await httpRequest(port: api.port, "/v1/domains/\(name)/console/log")
        #expect(notYet.status == 404)
        #expect(try notYet.json()["type"] as? String == "https://virthost.dev/problems/console-log-not-found")
        #expect((try notYet.json()["detail"] as? String)?.contains("not written yet") == true)
        let foreign = try await httpRequest(port: api.port, "/v1/domains/\(outside)/console/log")
        #expect(foreign.status == 404, "a spec's own log file outside the directory is never read")
        #expect((try foreign.json()["detail"] as? String)?.contains("outside") == true)
        #expect(try await httpRequest(port: api.port, "/v1/domains/\(name)/console/log?tail_bytes=0").status == 400)

        let started = try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/start", timeout: 60)
        #expect(started.status == 200, "\(started.text)")
        var log = ""
        let deadline = Date().addingTimeInterval(30)
        while !log.contains("SeaBIOS"), Date() < deadline {
            try await Task.sleep(for: .milliseconds(250))
            let response = try await httpRequest(port: api.port, "/v1/domains/\(name)/console/log")
            if response.status == 200 {
                #expect(response.headers["content-type"]?.hasPrefix("text/plain") == true)
                log = response.text
            }
        }
        #expect(log.contains("SeaBIOS"), "\(log)")
        let tail = try await httpRequest(port: api.port, "/v1/domains/\(name)/console/log?tail_bytes=7")
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)-serial0.log")))
        #expect(tail.body.count == 7)
        // The guest may print more meanwhile: the 7 bytes are the end of the log as it was then.
        #expect(whole.count >= 7 && (7...whole.count).contains { Array(whole.prefix($0).suffix(7)) == tail.body }, "the last 7 bytes")
        await api.stop()
    }
}

/// Many idle consoles cost no thread each: a read waits on the one poll thread.
extension RealLibvirtdTests {
    /// How many idle VNC WebSockets the test opens (200; a sanitizer run may set fewer).
    static let idleSocketCount = Int(ProcessInfo.processInfo.environment["VIRTHOST_TEST_IDLE_SOCKETS"] ?? "") ?? 200

    @Test(.enabled(if: ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"] != nil,
                   "VIRTHOST_TEST_PYTHON names a Python with websockets"))
    func hundredsOfIdleVNCWebSocketsKeepTheThreadCountBounded() async throws {
        let python = try #require(ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"])
        let count = Self.idleSocketCount
        // QEMU serves at most 32 VNC clients a display (its `connections` default): 30 a guest.
        let names = (0..<(count + 29) / 30).map { _ in Self.guestName() }
        defer { for name in names { removeGuest(name) } }
        let api = try APITestServer(uri: uri)
        for name in names {
            let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
                {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"]},
                         "cpu":\#(RealLibvirtd.startableCPU)},"start":true}
                """#.utf8), timeout: 60)
            #expect(created.status == 201, "\(created.text)")
        }
        let urls = names.map { "ws://127.0.0.1:\(api.port)/v1/domains/\($0)/console/vnc" }
        let pid = ProcessInfo.processInfo.processIdentifier
        let output = try await onOwnThread {
            try run(python, [Fixtures.path("vnc_idle_sockets.py"), String(count), String(pid)] + urls)
        }
        await api.stop()
        let line = try #require(output.split(separator: "\n").last, "vnc_idle_sockets.py printed nothing")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(output)")
        #expect(seen["open"] as? Int == count, "\(seen["errors"] ?? "")")
        let before = try #require(seen["threads_before"] as? Int), open = try #require(seen["threads_open"] as? Int)
        print("threads: \(before) before, \(open) with \(count) idle VNC WebSockets open on \(names.count) guests")
        // The bound: 64 threads more, whatever the count (a thread per socket would be 2 × count).
        #expect(open - before <= 64, "\(open - before) threads more with \(count) idle sockets")

        // A serial console on every guest besides: their bytes all move on the one pump thread,
        // and the threads that opened them are gone (the kernel keeps 15 bytes of a name).
        let threadNames = try #require(seen["thread_names"] as? [String: Int], "\(seen)")
        #expect(seen["serial_open"] as? Int == names.count, "\(seen["errors"] ?? "")")
        print("threads with \(names.count) serial consoles open besides: \(threadNames.sorted { $0.key < $1.key })")
        #expect(threadNames["virthost-serial"] == 1 && threadNames["virthost-consol"] == nil, "\(threadNames)")
    }
}
