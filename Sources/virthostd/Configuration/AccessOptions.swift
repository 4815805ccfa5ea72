import ArgumentParser
import HTTPServer
import VirtHostAPI

/// Who may call: bearer tokens, TLS and mutual TLS.
struct AccessOptions: ParsableArguments {
    @Option(name: .customLong("tokens-file"), help: "Bearer tokens file: `<name> <read|write> <sha256 hex>` a line; re-read on SIGHUP. Env: VIRTHOST_TOKENS_FILE.")
    var tokensFileFlag: String?
    var tokensFile: String? { tokensFileFlag ?? Environment.string("VIRTHOST_TOKENS_FILE") }

    @Option(name: .customLong("tls-cert"), help: "Serve HTTPS with this PEM certificate chain (needs --tls-key). Env: VIRTHOST_TLS_CERT.")
    var tlsCertFlag: String?
    var tlsCert: String? { tlsCertFlag ?? Environment.string("VIRTHOST_TLS_CERT") }

    @Option(name: .customLong("tls-key"), help: "The PEM private key of --tls-cert. Env: VIRTHOST_TLS_KEY.")
    var tlsKeyFlag: String?
    var tlsKey: String? { tlsKeyFlag ?? Environment.string("VIRTHOST_TLS_KEY") }

    @Option(name: .customLong("tls-client-ca"), help: "Require client certificates issued by these PEM CAs (mutual TLS). Env: VIRTHOST_TLS_CLIENT_CA.")
    var tlsClientCaFlag: String?
    var tlsClientCa: String? { tlsClientCaFlag ?? Environment.string("VIRTHOST_TLS_CLIENT_CA") }

    @Option(help: "GnuTLS priority string. Env: VIRTHOST_TLS_PRIORITIES.")
    var tlsPriorities: String = Environment.value("VIRTHOST_TLS_PRIORITIES", default: TLSConfiguration.modernPriorities)

    @Flag(help: "Allow listening beyond loopback with neither tokens nor mutual TLS. Env: VIRTHOST_INSECURE_NO_AUTH (1/0, true/false, yes/no, on/off).")
    var insecureNoAuth: Bool = Environment.value("VIRTHOST_INSECURE_NO_AUTH", default: false)

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if tlsClientCa != nil, tlsCert == nil {
            throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
        }
    }

    /// Whether callers must prove who they are (tokens or client certificates).
    var authenticates: Bool { tokensFile != nil || tlsClientCa != nil }

    var authDescription: String { tokensFile != nil ? "bearer tokens" : tlsClientCa != nil ? "mutual TLS" : "none" }

    /// The TLS set-up with its files read now, so a bad one stops the start with its reason.
    func tlsConfiguration() throws -> TLSConfiguration? {
        guard let tlsCert, let tlsKey else { return nil }
        let read = VirtHostD.readTextFile
        return TLSConfiguration(certificatePEM: try read(tlsCert, "TLS certificate"),
                                privateKeyPEM: try read(tlsKey, "TLS key"),
                                clientCAPEM: try tlsClientCa.map { try read($0, "client CA file") },
                                priorities: tlsPriorities, clientCertificateOptionalPaths: Scope.publicPaths)
    }
}
