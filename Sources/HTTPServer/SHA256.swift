import CMicroHTTPD

/// SHA-256 by GnuTLS, the TLS library libmicrohttpd already links.
public enum SHA256 {
    public static func digest(_ bytes: some Collection<UInt8>) -> [UInt8] {
        GnuTLSDigest.compute(bytes, size: 32, name: "SHA-256", virthost_sha256)
    }

    /// Lower-case hex.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(64)
        for byte in digest(bytes) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether two byte strings are equal, in time that depends only on their lengths.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// A digest by one of GnuTLS's one-shot hash functions, through the shim.
enum GnuTLSDigest {
    static func compute(_ bytes: some Collection<UInt8>, size: Int, name: String,
                        _ hash: (UnsafeRawPointer?, Int, UnsafeMutablePointer<UInt8>?) -> Int32) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: size)
        let input = Array(bytes)
        let result = input.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { hash(input.baseAddress, input.count, $0.baseAddress) }
        }
        precondition(result == 0, "GnuTLS could not compute \(name)")
        return digest
    }
}
