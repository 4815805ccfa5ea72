import Foundation
import Testing
import TestSupport

/// `virthostd` as an operator starts it: safe defaults, the tokens file and its reload, the audit file.
@Suite(.paced) struct ServiceAccessTests {
    /// Runs `virthostd` expecting it to refuse to start; returns its exit status and stderr.
    static func refusal(_ arguments: [String]) async throws -> (status: Int32, errors: String) {
        try await onOwnThread {
            let errors = FileManager.default.temporaryDirectory.appendingPathComponent("refusal-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: errors) }
            let process = try ChildProcess(ServiceProcess.executable.path, arguments,
                                           environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VIRTHOST_") },
                                           stderr: .file(errors))
            guard let status = process.waitForExit(timeout: TestTiming.scaled(.seconds(10))) else { return (0, "still running") }
            return (status, try String(contentsOfFile: errors, encoding: .utf8))
        }
    }

    static func writeTokens(_ lines: [(String, String, String)]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)").path
        try rewrite(path, lines)
        return path
    }

    static func rewrite(_ path: String, _ lines: [(String, String, String)]) throws {
        let text = try lines.map { "\($0.0) \($0.1) \(try AccessTests.sha256Hex($0.2))" }.joined(separator: "\n")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test(arguments: ["0.0.0.0:0", "[::]:0", "192.0.2.1:8080"])
    func refusesToListenBeyondLoopbackWithoutAuthentication(address: String) async throws {
        let (status, errors) = try await Self.refusal(["--listen", address])
        #expect(status != 0)
        #expect(errors.contains("refusing to listen on \(address) without authentication"), "\(errors)")
        #expect(errors.contains("--tokens-file") && errors.contains("--insecure-no-auth"))
    }

    @Test func listensBeyondLoopbackWhenToldOrWithTokens() async throws {
        let open = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "0.0.0.0:0", "--insecure-no-auth"]) }
        #expect(try await httpRequest(port: open.port, "/v1/host").status == 200)
        _ = try await onOwnThread { open.stop() }

        let tokens = try Self.writeTokens([("ops", "write", "secret-1")])
        defer { try? FileManager.default.removeItem(atPath: tokens) }
        let guarded = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "0.0.0.0:0", "--tokens-file", tokens]) }
        #expect(try await httpRequest(port: guarded.port, "/v1/host").status == 401)
        #expect(try await httpRequest(port: guarded.port, "/v1/host", headers: AccessTests.bearer("secret-1")).status == 200)
        _ = try await onOwnThread { guarded.stop() }
    }

    /// The service applies --allowed-host and --allowed-origin (and their variables), and
    /// refuses malformed ones by name.
    @Test func browserSafetyFlagsAreApplied() async throws {
        let service = try await onOwnThread {
            try ServiceProcess(arguments: ["--listen", "127.0.0.1:0", "--allowed-host", "hv1.example.net",
                                           "--allowed-origin", "https://console.example.net"],
                               environment: ["VIRTHOST_ALLOWED_HOSTS": "hv2.example.net"])
        }
        let port = service.port
        #expect(try await httpRequest(port: port, "/healthz", headers: [("Host", "hv1.example.net:\(port)")]).status == 200)
        #expect(try await httpRequest(port: port, "/healthz", headers: [("Host", "evil.example:\(port)")]).status == 421)
        let cross = try await httpRequest(port: port, "/v1/host", headers: [("Origin", "https://console.example.net")])
        #expect(cross.status == 200)
        #expect(cross.headers["access-control-allow-origin"] == "https://console.example.net")
        #expect(try await httpRequest(port: port, "/v1/host", headers: [("Origin", "https://evil.example")]).status == 403)
        _ = try await onOwnThread { service.stop() }
        // The flag wins over the variable, as for every setting.
        let fromEnvironment = try await onOwnThread {
            try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"], environment: ["VIRTHOST_ALLOWED_HOSTS": "hv2.example.net, hv3.example.net"])
        }
        #expect(try await httpRequest(port: fromEnvironment.port, "/healthz",
                                      headers: [("Host", "hv3.example.net")]).status == 200)
        _ = try await onOwnThread { fromEnvironment.stop() }

        let refused = try await Self.refusal(["--listen", "127.0.0.1:0", "--allowed-origin", "console.example.net/app"])
        #expect(refused.status != 0)
        #expect(refused.errors.contains("--allowed-origin"))
    }

    @Test func servesHTTPSAndMutualTLSFromTheFilesItIsGiven() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let service = try await onOwnThread {
            try ServiceProcess(arguments: ["--listen", "0.0.0.0:0", "--tls-cert", certificates.path("server.pem"),
                                           "--tls-key", certificates.path("server.key"),
                                           "--tls-client-ca", certificates.path("ca.pem")])
        }
        #expect(service.log.contains { $0.contains("listening on https://") && $0.contains("auth=mutual TLS") })
        let base = "https://127.0.0.1:\(service.port)"
        let ca = ["--cacert", certificates.path("ca.pem")]
        let client = ca + ["--cert", certificates.path("client.pem"), "--key", certificates.path("client.key")]
        #expect(try await onOwnThread { TLSTests.curl("\(base)/v1/host", client) }.status == 200)
        #expect(try await onOwnThread { TLSTests.curl("\(base)/v1/host", ca) }.status == 403)
        #expect(try await onOwnThread { TLSTests.curl("\(base)/readyz", ca) }.status == 200)
        #expect(try await onOwnThread { service.stop() } == 0)

        // A key that does not belong to the certificate, or half of the pair, stops the start.
        let (mismatch, mismatchErrors) = try await Self.refusal(["--tls-cert", certificates.path("server.pem"),
                                                                  "--tls-key", certificates.path("rogue.key"), "--listen", "127.0.0.1:0"])
        #expect(mismatch != 0 && mismatchErrors.contains("TLS"), "\(mismatchErrors)")
        let (half, halfErrors) = try await Self.refusal(["--tls-cert", certificates.path("server.pem")])
        #expect(half != 0 && halfErrors.contains("--tls-cert and --tls-key go together"))
    }

    @Test func aMalformedTokensFileStopsTheStartWithItsLine() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "# ops\nops write \(String(repeating: "a", count: 64))\nmonitor reed \(String(repeating: "b", count: 64))\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (status, errors) = try await Self.refusal(["--tokens-file", path, "--listen", "127.0.0.1:0"])
        #expect(status != 0)
        #expect(errors.contains("line 3: scope must be read or write"), "\(errors)")
        let (missingStatus, missing) = try await Self.refusal(["--tokens-file", "/nonexistent/tokens"])
        #expect(missingStatus != 0 && missing.contains("cannot read the tokens file"))
    }

    @Test func sighupRereadsTheTokensFileAndKeepsTheOldOnesIfTheNewIsBroken() async throws {
        let path = try Self.writeTokens([("ops", "write", "before-rotation")])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let service = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "127.0.0.1:0", "--tokens-file", path]) }
        #expect(try await httpRequest(port: service.port, "/v1/host", headers: AccessTests.bearer("before-rotation")).status == 200)

        try Self.rewrite(path, [("ops", "write", "after-rotation")])
        kill(service.pid, SIGHUP)
        #expect(try await onOwnThread { service.waitForLog("tokens file re-read") })
        #expect(try await httpRequest(port: service.port, "/v1/host", headers: AccessTests.bearer("before-rotation")).status == 401)
        #expect(try await httpRequest(port: service.port, "/v1/host", headers: AccessTests.bearer("after-rotation")).status == 200)

        try "ops write not-a-digest\n".write(toFile: path, atomically: true, encoding: .utf8)
        kill(service.pid, SIGHUP)
        #expect(try await onOwnThread { service.waitForLog("tokens file not re-read") })
        #expect(try await httpRequest(port: service.port, "/v1/host", headers: AccessTests.bearer("after-rotation")).status == 200)
        #expect(try await onOwnThread { service.stop() } == 0)
    }

    @Test func theAuditFileHasOneJSONLinePerWriteRequest() async throws {
        let tokens = try Self.writeTokens([("ops", "write", "audit-secret")])
        let audit = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).jsonl").path
        defer {
            try? FileManager.default.removeItem(atPath: tokens)
            try? FileManager.default.removeItem(atPath: audit)
        }
        let service = try await onOwnThread {
            try ServiceProcess(arguments: ["--uri", try Fixtures.privateTestDriverURI(), "--listen", "127.0.0.1:0",
                                           "--tokens-file", tokens, "--audit-log", audit])
        }
        let writer = AccessTests.bearer("audit-secret")
        #expect(try await httpRequest(port: service.port, "POST", "/v1/domains/test/pause",
                                      headers: writer + [("X-Request-Id", "audited-pause")]).status == 200)
        #expect(try await httpRequest(port: service.port, "/v1/host", headers: writer).status == 200)
        #expect(try await httpRequest(port: service.port, "POST", "/v1/domains/test/resume").status == 401)
        #expect(try await onOwnThread { service.stop() } == 0)

        let lines = try String(contentsOfFile: audit, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "\(lines)")
        let records = try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]) }
        let pause = try #require(records.first { $0["request_id"] == "audited-pause" })
        #expect(pause["principal"] == "ops" && pause["domain"] == "test" && pause["outcome"] == "success")
        #expect(pause["method"] == "POST" && pause["status"] == "200" && pause["event"] == "audit" && pause["time"] != nil)
        let refused = try #require(records.first { $0["path"] == "/v1/domains/test/resume" })
        #expect(refused["principal"] == "anonymous" && refused["status"] == "401" && refused["outcome"] == "denied")
    }
}
