import Foundation
import Testing
import TestSupport

/// `send-key` on a real guest: SeaBIOS, waiting after "No bootable device.", resets the
/// machine on Ctrl+Alt+Delete, and its banner shows again in the serial log.
extension RealLibvirtdTests {
    @Test func ctrlAltDeleteRestartsSeaBIOS() async throws {
        let name = Self.guestName()
        let log = "/var/log/libvirt/qemu/\(name)-serial.log"
        defer {
            removeGuest(name)
            try? FileManager.default.removeItem(atPath: log)
        }
        let api = try APITestServer(uri: uri)
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"],"serial_bios":true},
                     "cpu":\#(RealLibvirtd.startableCPU),"graphics":{"type":"none"},"serial":{"log_file":"\#(log)"}}}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")

        func banners() -> Int {
            let text = (try? String(contentsOfFile: log, encoding: .isoLatin1)) ?? ""
            return text.components(separatedBy: "SeaBIOS (version").count - 1
        }
        func waitFor(_ what: String, _ condition: () -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while !condition() {
                guard ContinuousClock.now < deadline else {
                    Issue.record("timed out waiting for \(what); log: \((try? String(contentsOfFile: log, encoding: .isoLatin1)) ?? "")")
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        try await waitFor("No bootable device") {
            ((try? String(contentsOfFile: log, encoding: .isoLatin1)) ?? "").contains("No bootable device")
        }
        #expect(banners() == 1)

        let sent = try await httpRequest(port: api.port, "POST", "/v1/domains/\(name)/send-key",
                                         body: Array(#"{"keys":["KEY_LEFTCTRL","KEY_LEFTALT","KEY_DELETE"]}"#.utf8))
        #expect(sent.status == 204, "\(sent.text)")
        try await waitFor("a second SeaBIOS banner") { banners() >= 2 }

        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true", timeout: 60).status == 204)
        await api.stop()
    }
}
