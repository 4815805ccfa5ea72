import Foundation
import HTTPServer
import Testing
import TestSupport
import VirtHostAPI

/// HTTPS and mutual TLS through libmicrohttpd's GnuTLS, reached with curl as a client would.
@Suite(.paced, .serialized) struct TLSTests {
    /// `curl`'s status code and body; the code is 0 when no HTTP answer came.
    static func curl(_ url: String, _ options: [String]) -> (status: Int, body: String) {
        let marker = "\n@@status="
        guard let output = try? run("curl", ["-sS", "--max-time", String(Int(10 * TestTiming.slowdown)), "-w", "\(marker)%{http_code}"] + options + [url]),
              let range = output.range(of: marker, options: .backwards) else { return (0, "") }
        return (Int(output[range.upperBound...]) ?? 0, String(output[..<range.lowerBound]))
    }

    static func server(_ certificates: TestCertificates, clientCA: Bool,
                       tokens: TokenFile? = nil) throws -> APITestServer {
        let tls = TLSConfiguration(certificatePEM: try certificates.pem("server.pem"),
                                   privateKeyPEM: try certificates.pem("server.key"),
                                   clientCAPEM: clientCA ? try certificates.pem("ca.pem") : nil,
                                   clientCertificateOptionalPaths: Scope.publicPaths)
        let authenticator = Authenticator(tokens: tokens)
        return try APITestServer(uri: try Fixtures.privateTestDriverURI()) {
            $0.tls = tls
            $0.admission = authenticator.admission
        }
    }

    @Test func servesHTTPSAndNothingInPlain() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let server = try Self.server(certificates, clientCA: false)
        defer { Task { await server.stop() } }
        let base = "https://127.0.0.1:\(server.port)"
        let host = try await onOwnThread { Self.curl("\(base)/v1/host", ["--cacert", certificates.path("ca.pem")]) }
        #expect(host.status == 200)
        #expect(host.body.contains("\"hypervisor\""))
        // An unverified server certificate is refused by the client: the chain is real.
        let untrusted = try await onOwnThread { Self.curl("\(base)/healthz", []) }
        #expect(untrusted.status == 0)
        let plain = try await onOwnThread { Self.curl("http://127.0.0.1:\(server.port)/healthz", []) }
        #expect(plain.status == 0, "plain HTTP must get no answer from a TLS port")
        // Old protocol versions are refused by the default priorities.
        let tls11 = try await onOwnThread {
            Self.curl("\(base)/healthz", ["--cacert", certificates.path("ca.pem"), "--tlsv1.1", "--tls-max", "1.1"])
        }
        #expect(tls11.status == 0)
    }

    @Test func mutualTLSAdmitsOnlyClientsTheCAVouchesFor() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let server = try Self.server(certificates, clientCA: true)
        defer { Task { await server.stop() } }
        let base = "https://127.0.0.1:\(server.port)"
        let ca = ["--cacert", certificates.path("ca.pem")]
        let client = ca + ["--cert", certificates.path("client.pem"), "--key", certificates.path("client.key")]
        let rogue = ca + ["--cert", certificates.path("rogue.pem"), "--key", certificates.path("rogue.key")]

        let admitted = try await onOwnThread { Self.curl("\(base)/v1/host", client) }
        #expect(admitted.status == 200)
        let without = try await onOwnThread { Self.curl("\(base)/v1/host", ca) }
        #expect(without.status == 403)
        #expect(without.body.contains("client-certificate-required"))
        let untrusted = try await onOwnThread { Self.curl("\(base)/v1/host", rogue) }
        #expect(untrusted.status == 403)
        #expect(untrusted.body.contains("did not verify"))
        let pause = try await onOwnThread { Self.curl("\(base)/v1/domains/test/pause", rogue + ["-X", "POST"]) }
        #expect(pause.status == 403)
        let state = try await onOwnThread { Self.curl("\(base)/v1/domains/test", client) }
        #expect(state.body.contains("\"running\""), "a refused client changed nothing")
        // Probes cannot present certificates; they stay open.
        let health = try await onOwnThread { Self.curl("\(base)/healthz", ca) }
        #expect(health.status == 200)
    }

    @Test func mutualTLSAndTokensBothApply() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let server = try Self.server(certificates, clientCA: true, tokens: try AccessTests.tokens())
        defer { Task { await server.stop() } }
        let base = "https://127.0.0.1:\(server.port)"
        let ca = ["--cacert", certificates.path("ca.pem")]
        let client = ca + ["--cert", certificates.path("client.pem"), "--key", certificates.path("client.key")]
        let token = ["-H", "Authorization: Bearer \(AccessTests.readerToken)"]
        let certificateOnly = try await onOwnThread { Self.curl("\(base)/v1/host", client) }
        #expect(certificateOnly.status == 401)
        let tokenOnly = try await onOwnThread { Self.curl("\(base)/v1/host", ca + token) }
        #expect(tokenOnly.status == 403)
        let both = try await onOwnThread { Self.curl("\(base)/v1/host", client + token) }
        #expect(both.status == 200)
    }
}
