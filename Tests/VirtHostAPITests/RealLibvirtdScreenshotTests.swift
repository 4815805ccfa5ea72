import Foundation
import Locking
import Testing
import TestSupport
import VirtHost

/// A screenshot of a real guest's display (VNC, virtio video) once SeaBIOS has drawn on it:
/// a PNG of the size `virsh screenshot` gives, not of one colour.
extension RealLibvirtdTests {
    @Test func aScreenshotShowsWhatSeaBIOSDrew() async throws {
        let name = Self.guestName()
        let log = "/var/log/libvirt/qemu/\(name)-serial.log"
        let ppm = NSTemporaryDirectory() + "\(name).screenshot"
        defer {
            removeGuest(name)
            try? FileManager.default.removeItem(atPath: log)
            try? FileManager.default.removeItem(atPath: ppm)
        }
        let api = try APITestServer(uri: uri)
        let created = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"\#(name)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"],"serial_bios":true},
                     "cpu":\#(RealLibvirtd.startableCPU),"serial":{"log_file":"\#(log)"}}}
            """#.utf8), timeout: 60)
        #expect(created.status == 201, "\(created.text)")
        let deadline = ContinuousClock.now + .seconds(30)
        while !((try? String(contentsOfFile: log, encoding: .isoLatin1)) ?? "").contains("No bootable device"),
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }

        let shot = try await httpRequest(port: api.port, "/v1/domains/\(name)/screenshot", timeout: 60)
        #expect(shot.status == 200, "\(shot.text)")
        #expect(shot.headers["content-type"] == "image/png")
        let image = try ScreenshotEndpointTests.decode(shot.body)

        // virsh's own screenshot of the same display (PNG from this QEMU, PPM from older
        // ones): the same size.
        _ = try run("virsh", ["-c", uri, "screenshot", name, ppm])
        let theirs = try Data(contentsOf: URL(fileURLWithPath: ppm))
        if theirs.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            let decoded = try ScreenshotEndpointTests.decode(Array(theirs))
            #expect((image.width, image.height) == (decoded.width, decoded.height))
        } else {
            let header = String(decoding: theirs.prefix(32), as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " })
            #expect(header.count > 2 && image.width == Int(header[1]) && image.height == Int(header[2]), "\(image) vs \(header)")
        }
        #expect(image.colours > 1, "a display of one colour: SeaBIOS drew nothing")
        print("screenshot: \(image.width)×\(image.height), \(image.colours) colours, \(shot.body.count) bytes")

        // Off the Host's thread: with that thread held by another call, a screenshot is still
        // taken and encoded (ordering, not timing: the holder lets go only after it, or after 30 s).
        let guest = try await api.host.guest(for: name)
        let phase = Mutex((holding: false, released: false, heldUntilReleased: false))
        let holder = Task {
            try await api.host.run { _ throws(HostError) in
                phase.withLock { $0.holding = true }
                let deadline = ContinuousClock.now + .seconds(30)
                while !phase.withLock({ $0.released }) && ContinuousClock.now < deadline { usleep(10_000) }
                phase.withLock { $0.heldUntilReleased = $0.released }
            }
        }
        while !phase.withLock({ $0.holding }) { try await Task.sleep(for: .milliseconds(5)) }
        let whileHeld = try await guest.screenshotPNG()
        phase.withLock { $0.released = true }
        try await holder.value
        #expect(phase.withLock { $0.heldUntilReleased }, "the screenshot waited for the Host's thread")
        #expect(whileHeld.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(try await httpRequest(port: api.port, "DELETE", "/v1/domains/\(name)?force=true", timeout: 60).status == 204)
        await api.stop()
    }
}
