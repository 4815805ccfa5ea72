import Foundation
import Testing
import TestSupport
@testable import VirtHost

/// The screenshot encoder: QEMU's PPM in, PNG out, decoded by a zlib-only decoder.
@Suite(.paced) struct PNGImageTests {
    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/png_check.py").path

    func ppm(_ header: String, _ pixels: [UInt8]) -> [UInt8] { Array(header.utf8) + pixels }

    @Test func aPixmapBecomesAPNGOfItsSizeAndColours() throws {
        // 4 × 3, every pixel its own colour; a comment in the header as netpbm allows.
        var pixels: [UInt8] = []
        for index in 0..<12 {
            let level = UInt8(index * 20)
            pixels += [level, 255 - level, UInt8(index)]
        }
        let pixmap = try PNGImage.pixmap(ppm: ppm("P6\n# QEMU\n4 3\n255\n", pixels))
        #expect(pixmap.width == 4 && pixmap.height == 3 && Array(pixmap.pixels) == pixels)
        let png = try PNGImage.png(pixmap)
        #expect(png.starts(with: PNGImage.signature))
        let path = NSTemporaryDirectory() + "png-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(png).write(to: URL(fileURLWithPath: path))
        #expect(try run("python3", [Self.checker, path]).contains(#""width": 4, "height": 3, "colours": 12"#))
    }

    @Test(arguments: ["P5\n4 3\n255\n", "P6\n4 3\n65535\n", "P6\n4\n", "P6\n0 3\n255\n", "P6\n99999 3\n255\n", "P6\n4 3\n255\n"])
    func whatIsNotABinaryPPMIsRefused(header: String) {
        // The last header is right, but its pixels are short.
        #expect(throws: PNGImage.Failure.self) { try PNGImage.pixmap(ppm: ppm(header, [1, 2, 3])) }
    }
}
