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
