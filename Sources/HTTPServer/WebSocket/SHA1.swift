import CMicroHTTPD

/// SHA-1 by GnuTLS (which libmicrohttpd already links), only for the WebSocket handshake:
/// RFC 6455 fixes `Sec-WebSocket-Accept` to SHA-1, where it proves the server read the
/// key, not a security property.
enum SHA1 {
    static func digest(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 20)
        let input = Array(bytes)
        let result = input.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { virthost_sha1(input.baseAddress, input.count, $0.baseAddress) }
        }
        precondition(result == 0, "GnuTLS could not compute SHA-1")
        return digest
    }
}
