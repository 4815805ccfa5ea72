import Foundation
import HTTPServer
import Logging
import Testing
import TestSupport
import VirtHost
import VirtHostAPI

/// Bearer tokens: the file, the scope each call needs, and the answers a caller gets.
@Suite(.paced) struct AccessTests {
    static let writerToken = "writer-7f3a9c"
    static let readerToken = "reader-51be02"

    static func sha256Hex(_ text: String) throws -> String {
        // The digest an operator makes with sha256sum, not ours, so the two must agree.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return String(try run("sha256sum", [file.path]).prefix(64))
    }

    static func tokens() throws -> TokenFile {
        try TokenFile(parsing: """
            # who   scope  sha256 of the token
            ops     write  \(try sha256Hex(writerToken))
            monitor read   \(try sha256Hex(readerToken))   # dashboards
            """)
    }

    static func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

    // MARK: The tokens file

    @Test func theTokensFileReadsNamesScopesAndDigests() throws {
        let file = try Self.tokens()
        #expect(file.entries.map(\.name) == ["ops", "monitor"])
        #expect(file.entries.map(\.scope) == [.write, .read])
        #expect(file.entries[0].digest == SHA256.digest(Array(Self.writerToken.utf8)))
    }

    @Test(arguments: [
        ("ops write", 1, "found 2 fields"),
        ("# fine\nops admin \(String(repeating: "a", count: 64))", 2, "scope must be read or write"),
        ("ops write abc", 1, "64 hex digits"),
        ("ops write \(String(repeating: "g", count: 64))", 1, "64 hex digits"),
        ("o/ps write \(String(repeating: "a", count: 64))", 1, "token name"),
        ("a write \(String(repeating: "a", count: 64))\na read \(String(repeating: "b", count: 64))", 2, "used twice"),
        ("a write \(String(repeating: "a", count: 64))\nb read \(String(repeating: "A", count: 64))", 2, "already given"),
    ])
    func aMalformedLineIsReportedWithItsNumber(text: String, line: Int, reason: String) {
        #expect {
            try TokenFile(parsing: text)
        } throws: { error in
            guard let error = error as? TokenFile.ParseError else { return false }
            return error.line == line && error.reason.contains(reason)
        }
    }

    @Test func sha256MatchesTheKnownVector() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    // MARK: Scopes

    /// Decided by the route the request matches (its declared access), as the server sees it.
    @Test func eachCallNeedsTheScopeItsRouteDeclares() {
        let host = VirtHost.Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
        let router = API(host: host, logger: Logger(label: "test")).router()
        func scope(_ method: String, _ path: String, _ query: [(String, String)] = []) -> Scope? {
            Scope.required(for: router.resolve(Request(method: method, path: path,
                                                       query: query.map { (name: $0.0, value: $0.1) })))
        }
        #expect(scope("GET", "/healthz") == nil)
        #expect(scope("HEAD", "/healthz") == nil)
        #expect(scope("GET", "/readyz") == nil)
        // The router reads doubled slashes as single ones: the same public probe.
        #expect(scope("GET", "//healthz") == nil)
        #expect(scope("GET", "/v1/host") == .read)
        #expect(scope("GET", "/metrics") == .read)
        #expect(scope("GET", "/no/such/path") == .read)
        #expect(scope("GET", "/v1/domains/test/xml") == .read)
        #expect(scope("GET", "/v1/domains/test/xml", [("secure", "false")]) == .read)
        #expect(scope("GET", "/v1/domains/test/xml", [("secure", "true")]) == .write)
        #expect(scope("GET", "/v1/domains/test/xml", [("secure", "")]) == .write)
        #expect(scope("GET", "//v1//domains/test/xml/", [("inactive", "1"), ("secure", "1")]) == .write)
        #expect(scope("GET", "/v1/domains/test/xml", [("secure", "0"), ("secure", "yes")]) == .write)
        #expect(scope("POST", "/v1/guests/render") == .write)
        #expect(scope("DELETE", "/v1/domains/test") == .write)
        // A method the probe does not take reaches no route: it needs a token like any unknown call.
        #expect(scope("POST", "/healthz") == .write)
        #expect(scope("OPTIONS", "/v1/domains/test") == .read)
        #expect(scope("HEAD", "/v1/domains/test/xml", [("secure", "1")]) == .write)
    }

    /// The paths where mutual TLS asks no certificate are exactly the routes declared public.
    @Test func thePublicPathsAreTheRoutesDeclaredPublic() {
        let host = VirtHost.Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
        let routes = API(host: host, logger: Logger(label: "test")).router().routes
        let declared = routes.filter { route in
            if case .public = route.options.access { return true }
            return false
        }
        #expect(Set(declared.map(\.pattern)) == Scope.publicPaths)
    }

    // MARK: Over HTTP

    @Test func callsWithoutAKnownTokenGet401WithAChallenge() async throws {
        let authenticator = Authenticator(tokens: try Self.tokens())
        let server = try APITestServer(uri: try Fixtures.privateTestDriverURI()) { $0.admission = authenticator.admission }
        defer { Task { await server.stop() } }

        let missing = try await httpRequest(port: server.port, "/v1/host")
        #expect(missing.status == 401)
        #expect(missing.headers["www-authenticate"] == "Bearer realm=\"virthost\"")
        #expect(try missing.json()["type"] as? String == "https://virthost.dev/problems/unauthorized")

        let unknown = try await httpRequest(port: server.port, "/v1/host", headers: Self.bearer("guess"))
        #expect(unknown.status == 401)
        #expect(unknown.headers["www-authenticate"] == "Bearer realm=\"virthost\", error=\"invalid_token\"")

        let basic = try await httpRequest(port: server.port, "/v1/host",
                                          headers: [("Authorization", "Basic \(Self.writerToken)")])
        #expect(basic.status == 401)
        // A path that does not exist says nothing to a stranger.
        #expect(try await httpRequest(port: server.port, "/v1/nothing-here").status == 401)
        // The probes need no token.
        #expect(try await httpRequest(port: server.port, "/healthz").status == 200)
        #expect(try await httpRequest(port: server.port, "/readyz").status == 200)
    }

    @Test func readTokensReadAndWriteTokensWrite() async throws {
        let authenticator = Authenticator(tokens: try Self.tokens())
        let server = try APITestServer(uri: try Fixtures.privateTestDriverURI()) { $0.admission = authenticator.admission }
        defer { Task { await server.stop() } }
        let reader = Self.bearer(Self.readerToken), writer = Self.bearer(Self.writerToken)

        #expect(try await httpRequest(port: server.port, "/v1/host", headers: reader).status == 200)
        #expect(try await httpRequest(port: server.port, "/v1/domains/test/xml", headers: reader).status == 200)
        #expect(try await httpRequest(port: server.port, "/metrics", headers: reader).status == 200)

        let secure = try await httpRequest(port: server.port, "/v1/domains/test/xml?secure=true", headers: reader)
        #expect(secure.status == 403)
        #expect(secure.headers["www-authenticate"]?.contains("error=\"insufficient_scope\"") == true)
        #expect(try secure.json()["required_scope"] as? String == "write")

        let pause = try await httpRequest(port: server.port, "POST", "/v1/domains/test/pause", headers: reader)
        #expect(pause.status == 403)
        #expect(try await httpRequest(port: server.port, "/v1/domains/test", headers: reader).text.contains("\"running\""))

        #expect(try await httpRequest(port: server.port, "/v1/domains/test/xml?secure=true", headers: writer).status == 200)
        #expect(try await httpRequest(port: server.port, "POST", "/v1/domains/test/pause", headers: writer).status == 200)
        // A bad token is refused before its body is read; the domain is untouched.
        let refusedWithBody = try await httpRequest(port: server.port, "POST", "/v1/domains/test/resume",
                                                    headers: Self.bearer("guess"), body: Array(repeating: 0x20, count: 4096))
        #expect(refusedWithBody.status == 401)
        #expect(try await httpRequest(port: server.port, "/v1/domains/test", headers: reader).text.contains("\"paused\""))
    }

    @Test func replacedTokensTakeEffectAtOnce() async throws {
        let authenticator = Authenticator(tokens: try Self.tokens())
        let server = try APITestServer(uri: try Fixtures.privateTestDriverURI()) { $0.admission = authenticator.admission }
        defer { Task { await server.stop() } }
        #expect(try await httpRequest(port: server.port, "/v1/host", headers: Self.bearer(Self.readerToken)).status == 200)
        authenticator.replaceTokens(try TokenFile(parsing: "rotated read \(try Self.sha256Hex("rotated-token"))"))
        #expect(try await httpRequest(port: server.port, "/v1/host", headers: Self.bearer(Self.readerToken)).status == 401)
        #expect(try await httpRequest(port: server.port, "/v1/host", headers: Self.bearer("rotated-token")).status == 200)
    }

    @Test func everyWriteRequestLeavesOneAuditLine() async throws {
        let capture = LogCapture()
        let authenticator = Authenticator(tokens: try Self.tokens())
        let server = try APITestServer(uri: try Fixtures.privateTestDriverURI(), audit: AuditLog(logger: capture.logger)) {
            $0.admission = authenticator.admission
        }
        defer { Task { await server.stop() } }
        let pause = try await httpRequest(port: server.port, "POST", "/v1/domains/test/pause",
                                          headers: Self.bearer(Self.writerToken) + [("X-Request-Id", "audit-1")])
        #expect(pause.status == 200)
        _ = try await httpRequest(port: server.port, "POST", "/v1/domains/test/resume", headers: Self.bearer(Self.readerToken))
        _ = try await httpRequest(port: server.port, "/v1/host", headers: Self.bearer(Self.readerToken))
        _ = try await httpRequest(port: server.port, "DELETE", "/v1/domains/nosuch", headers: Self.bearer(Self.writerToken))

        // Completion is reported after the response is sent: wait for the three lines.
        let deadline = ContinuousClock.now + .seconds(5)
        while capture.records.count < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let records = capture.records
        #expect(records.count == 3, "GET requests are not audited; every other request is")
        #expect(records.allSatisfy { $0.level == .info && $0.message == "audit" })
        let paused = try #require(records.first { $0.metadata["request_id"] == "audit-1" })
        #expect(paused.metadata["principal"] == "ops")
        #expect(paused.metadata["method"] == "POST")
        #expect(paused.metadata["path"] == "/v1/domains/test/pause")
        #expect(paused.metadata["domain"] == "test")
        #expect(paused.metadata["status"] == "200")
        #expect(paused.metadata["outcome"] == "success")
        let denied = try #require(records.first { $0.metadata["path"] == "/v1/domains/test/resume" })
        #expect(denied.metadata["principal"] == "monitor")
        #expect(denied.metadata["outcome"] == "denied")
        let missing = try #require(records.first { $0.metadata["method"] == "DELETE" })
        #expect(missing.metadata["outcome"] == "rejected")
        #expect(missing.metadata["domain"] == "nosuch")
    }
}
