import CMicroHTTPD

/// SHA-1 by GnuTLS (which libmicrohttpd already links), only for the WebSocket handshake:
/// RFC 6455 fixes `Sec-WebSocket-Accept` to SHA-1, where it proves the server read the
/// key, not a security property.
enum SHA1 {
    static func digest(_ bytes: some Collection<UInt8>) -> [UInt8] {
        GnuTLSDigest.compute(bytes, size: 20, name: "SHA-1", virthost_sha1)
    }
}
