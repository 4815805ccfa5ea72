/// HTTPS through libmicrohttpd's GnuTLS, optionally with mutual TLS.
public struct TLSConfiguration: Sendable {
    /// The server's certificate chain and private key, PEM.
    public var certificatePEM: String
    public var privateKeyPEM: String
    /// CA certificates (PEM) that client certificates must chain to. When set, every request
    /// must come with a client certificate the server verifies itself (libmicrohttpd only asks
    /// for one), except on ``clientCertificateOptionalPaths``.
    public var clientCAPEM: String?
    /// A GnuTLS priority string.
    public var priorities: String
    /// Paths served without a client certificate even under mutual TLS (health probes, which
    /// cannot present one).
    public var clientCertificateOptionalPaths: Set<String>

    /// TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy.
    public static let modernPriorities =
        "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:-SHA1:-RSA"

    public init(certificatePEM: String, privateKeyPEM: String, clientCAPEM: String? = nil,
                priorities: String = TLSConfiguration.modernPriorities,
                clientCertificateOptionalPaths: Set<String> = []) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.clientCAPEM = clientCAPEM
        self.priorities = priorities
        self.clientCertificateOptionalPaths = clientCertificateOptionalPaths
    }
}

/// What the server learnt of the client's TLS certificate for one request.
public enum ClientCertificate: Sendable, Equatable {
    /// Plain HTTP, or TLS without mutual authentication.
    case notRequested
    case absent
    /// Presented and verified against the client CA; the subject's distinguished name.
    case verified(subject: String)
    case untrusted
}
