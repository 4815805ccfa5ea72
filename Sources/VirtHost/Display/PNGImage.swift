import CZlib

/// A screenshot as PNG: QEMU's PPM (binary `P6`, 8 bits per channel) read, and written as an
/// 8-bit RGB PNG (IHDR, one zlib IDAT with filter 0 on every row, IEND), using zlib for the
/// deflate stream and the CRCs PNG is built on.
enum PNGImage {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// A display larger than this is no display QEMU has: refused rather than allocated.
    static let maximumSide = 16384

    struct Pixmap: Equatable {
        var width: Int
        var height: Int
        /// RGB, row by row.
        var pixels: ArraySlice<UInt8>
    }

    enum Failure: Error, CustomStringConvertible {
        case notPPM(String)
        case deflate(Int32)
        var description: String {
            switch self {
            case .notPPM(let why): "the screenshot is not a binary PPM: \(why)"
            case .deflate(let code): "zlib could not compress the screenshot (error \(code))"
            }
        }
    }

    /// Reads a binary PPM: `P6`, width, height, maxval (255), each after whitespace (and
    /// `#` comments), one whitespace byte, then the pixels.
    static func pixmap(ppm bytes: [UInt8]) throws(Failure) -> Pixmap {
        var index = 0
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
        func token() throws(Failure) -> String {
            while index < bytes.count {
                if isSpace(bytes[index]) {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "#") {
                    while index < bytes.count, bytes[index] != 0x0A { index += 1 }
                } else {
                    break
                }
            }
            let start = index
            while index < bytes.count, !isSpace(bytes[index]), index - start < 16 { index += 1 }
            guard index > start else { throw .notPPM("the header ends early") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        guard try token() == "P6" else { throw .notPPM("no P6 magic") }
        guard let width = Int(try token()), let height = Int(try token()), let maxval = Int(try token()),
              (1...maximumSide).contains(width), (1...maximumSide).contains(height) else {
            throw .notPPM("no width, height and maximum value within \(maximumSide)")
        }
        guard maxval == 255 else { throw .notPPM("\(maxval) levels per channel, not 256") }
        index += 1
        let count = width * height * 3
        guard bytes.count - index >= count else { throw .notPPM("\(bytes.count - index) bytes of \(count) pixels") }
        return Pixmap(width: width, height: height, pixels: bytes[index..<index + count])
    }

    static func png(_ pixmap: Pixmap) throws(Failure) -> [UInt8] {
        let rowBytes = pixmap.width * 3
        var filtered = [UInt8]()
        filtered.reserveCapacity((rowBytes + 1) * pixmap.height)
        for row in 0..<pixmap.height {
            filtered.append(0)
            let start = pixmap.pixels.startIndex + row * rowBytes
            filtered.append(contentsOf: pixmap.pixels[start..<start + rowBytes])
        }
        var compressed = [UInt8](repeating: 0, count: Int(compressBound(uLong(filtered.count))))
        var length = uLongf(compressed.count)
        let status = compressed.withUnsafeMutableBufferPointer { out in
            filtered.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &length, input.baseAddress, uLong(input.count), 6)
            }
        }
        guard status == Z_OK else { throw .deflate(status) }
        compressed.removeSubrange(Int(length)...)

        var header = [UInt8]()
        header.append(contentsOf: bigEndian(UInt32(pixmap.width)))
        header.append(contentsOf: bigEndian(UInt32(pixmap.height)))
        header.append(contentsOf: [8, 2, 0, 0, 0])  // 8 bits, RGB, deflate, filter 0, no interlace
        return signature + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        let crc = typeAndData.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(UInt32(truncatingIfNeeded: crc))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
