import Foundation
import HTTPServer
import Locking
import Logging
import Testing
import TestSupport
import VirtHostAPI

/// A web page the operator opens must not be able to act on the service through the browser:
/// not with "simple" cross-site requests (no preflight), not by DNS rebinding. Driven with a
/// real headless Chromium (Debian's `chromium` and `chromium-driver`, Selenium from PyPI; the
/// test command installs them), and with requests shaped as a browser sends them.
@Suite(.paced, .serialized) struct BrowserSafetyTests {
    static let python = ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"]

    /// A page server on another loopback port: another origin, as any web site is.
    static func pageServer() throws -> HTTPServer {
        var router = Router()
        router.get("/") { _ in Response(contentType: "text/html", text: "<!doctype html><title>elsewhere</title>") }
        let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: router,
                                logger: Logger(label: "test.page"))
        try server.start()
        return server
    }

    /// Runs each (url, async script) step in one Chromium and returns the scripts' results.
    static func browse(_ steps: [(url: String, script: String)]) async throws -> [[String: Any]] {
        let python = try #require(Self.python)
        let json = try JSONSerialization.data(withJSONObject: steps.map { ["url": $0.url, "script": $0.script] })
        let output = try await onOwnThread {
            try run(python, [Fixtures.path("browser.py"), String(decoding: json, as: UTF8.self)])
        }
        let line = try #require(output.split(separator: "\n").last, "browser.py printed nothing: \(output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [[String: Any]], "\(output)")
    }

    /// Statuses of the requests the service completed, by path.
    final class Seen: Sendable {
        let statuses = Mutex<[(String, String, Int)]>([])
        func record(_ request: CompletedRequest) { statuses.withLock { $0.append((request.method, request.path, request.status)) } }
        func status(_ method: String, _ path: String) -> [Int] {
            statuses.withLock { $0.filter { $0.0 == method && $0.1 == path }.map(\.2) }
        }
    }

    static func state(_ api: APITestServer, _ domain: String) async throws -> String? {
        let response = try await httpRequest(port: api.port, "/v1/domains/\(domain)")
        return response.status == 200 ? try response.json()["state"] as? String : nil
    }

    @Test(.enabled(if: python != nil, "VIRTHOST_TEST_PYTHON names a Python with selenium"))
    func aCrossSitePageCannotActOnTheServiceOrReadIt() async throws {
        let page = try Self.pageServer()
        let seen = Seen()
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI()) { configuration in
            let recordMetrics = configuration.onCompletion
            configuration.onCompletion = { recordMetrics?($0); seen.record($0) }
        }
        let service = "http://127.0.0.1:\(api.port)"
        let results = try await Self.browse([(url: "http://127.0.0.1:\(page.port)/", script: """
            const service = "\(service)";
            const result = {};
            // The attack of issue 21: a no-cors POST needs no preflight.
            const pause = await fetch(service + "/v1/domains/test/pause", {method: "POST", mode: "no-cors"});
            result.pauseType = pause.type;
            // A form-shaped body (text/plain needs no preflight either).
            await fetch(service + "/v1/guests", {method: "POST", mode: "no-cors",
                headers: {"Content-Type": "text/plain"},
                body: JSON.stringify({spec: {name: "planted", memory_mb: 64, virt_type: "test"}})});
            try { await (await fetch(service + "/v1/domains")).text(); result.read = true; }
            catch (error) { result.read = false; }
            return result;
            """)])
        await page.shutdown()
        #expect(results.first?["pauseType"] as? String == "opaque")
        #expect(results.first?["read"] as? Bool == false, "the browser let the page read the service")
        #expect(try await Self.state(api, "test") == "running", "the page paused the domain")
        #expect(try await Self.state(api, "planted") == nil, "the page created a guest")
        #expect(seen.status("POST", "/v1/domains/test/pause") == [403])
        #expect(seen.status("POST", "/v1/guests") == [403])
        await api.stop()
    }

    @Test(.enabled(if: python != nil, "VIRTHOST_TEST_PYTHON names a Python with selenium"))
    func aRebindingPageIsRefusedByItsHostName() async throws {
        let seen = Seen()
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI()) { configuration in
            let recordMetrics = configuration.onCompletion
            configuration.onCompletion = { recordMetrics?($0); seen.record($0) }
        }
        // rebind.test resolves to 127.0.0.1 in the browser: the page and the service share an
        // origin, so only the Host header tells them apart.
        let results = try await Self.browse([(url: "http://rebind.test:\(api.port)/healthz", script: """
            const pause = await fetch("/v1/domains/test/pause", {method: "POST"});
            const list = await fetch("/v1/domains");
            return {pause: pause.status, list: list.status, type: (await list.json()).type};
            """)])
        #expect(results.first?["pause"] as? Int == 421)
        #expect(results.first?["list"] as? Int == 421)
        #expect(results.first?["type"] as? String == "https://virthost.dev/problems/host-not-allowed")
        #expect(try await Self.state(api, "test") == "running")
        // Chromium retries a 421 once on a new connection (RFC 9110 §15.5.20 allows it).
        let navigations = seen.status("GET", "/healthz")
        #expect(!navigations.isEmpty && navigations.allSatisfy { $0 == 421 })
        #expect(seen.status("POST", "/v1/domains/test/pause").allSatisfy { $0 == 421 })
        await api.stop()
    }

    @Test(.enabled(if: python != nil, "VIRTHOST_TEST_PYTHON names a Python with selenium"))
    func anAllowedOriginWorksWithCORS() async throws {
        let page = try Self.pageServer()
        let origin = "http://127.0.0.1:\(page.port)"
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI()) {
            $0.browserSafety = BrowserSafety(allowedOrigins: [origin])
        }
        let service = "http://127.0.0.1:\(api.port)"
        let results = try await Self.browse([(url: "\(origin)/", script: """
            const service = "\(service)";
            const domain = await fetch(service + "/v1/domains/test");
            const body = await domain.json();
            // JSON with a Content-Type is not simple: the browser asks first (preflight).
            const render = await fetch(service + "/v1/guests/render", {method: "POST",
                headers: {"Content-Type": "application/json", "Accept": "application/json",
                          "Idempotency-Key": "k1"},
                body: JSON.stringify({name: "web1", memory_mb: 64, virt_type: "test"})});
            const pause = await fetch(service + "/v1/domains/test/pause", {method: "POST"});
            return {status: domain.status, name: body.name, requestId: domain.headers.get("X-Request-Id"),
                    render: render.status, pause: pause.status};
            """)])
        await page.shutdown()
        let result = try #require(results.first)
        #expect(result["status"] as? Int == 200)
        #expect(result["name"] as? String == "test")
        #expect((result["requestId"] as? String)?.isEmpty == false, "X-Request-Id is not exposed")
        #expect(result["render"] as? Int == 200)
        #expect(result["pause"] as? Int == 200)
        #expect(try await Self.state(api, "test") == "paused")
        await api.stop()
    }

    // MARK: Requests shaped as a browser sends them

    @Test func hostHeadersNameTheServerOrAnAllowedName() {
        let safety = BrowserSafety(allowedHosts: ["virthost.example"])
        for host in ["127.0.0.1", "127.0.0.1:8080", "127.1.2.3:80", "localhost", "LOCALHOST:8080", "[::1]",
                     "[::1]:8080", "virthost.example", "VirtHost.Example:8443"] {
            #expect(safety.allows(host: host, listeningOn: "127.0.0.1"), "\(host)")
        }
        for host in ["evil.example", "evil.example:8080", "127.0.0.1.nip.io", "localhost.evil.example", "[::1",
                     "127.0.0.1:80:80", "10.0.0.5:8080", ""] {
            #expect(!safety.allows(host: host, listeningOn: "127.0.0.1"), "\(host)")
        }
        #expect(safety.allows(host: "10.0.0.5:8080", listeningOn: "10.0.0.5"))
        #expect(safety.allows(host: "[fd00::5]:8080", listeningOn: "[fd00::5]"))
        // A wildcard listener answers on any of its addresses; names still must be allowed.
        #expect(safety.allows(host: "10.0.0.5:8080", listeningOn: "0.0.0.0"))
        #expect(!safety.allows(host: "evil.example", listeningOn: "0.0.0.0"))
    }

    @Test func originsAreTheServersOwnOrAllowed() {
        let safety = BrowserSafety(allowedOrigins: ["https://console.example"])
        #expect(safety.judge(origin: nil, host: "127.0.0.1:8080", tls: false) == .absent)
        #expect(safety.judge(origin: "http://127.0.0.1:8080", host: "127.0.0.1:8080", tls: false) == .sameOrigin)
        #expect(safety.judge(origin: "https://127.0.0.1:8080", host: "127.0.0.1:8080", tls: false) != .sameOrigin)
        #expect(safety.judge(origin: "https://console.example", host: "127.0.0.1:8080", tls: false)
                == .allowed("https://console.example"))
        #expect(safety.judge(origin: "https://console.example:443", host: "x", tls: true)
                == .allowed("https://console.example:443"))
        #expect(safety.judge(origin: "null", host: "127.0.0.1:8080", tls: false) == .refused("null"))
        #expect(safety.judge(origin: "http://evil.example", host: "127.0.0.1:8080", tls: false)
                == .refused("http://evil.example"))
    }

    /// What Chromium sends for the no-cors POST of issue 21, byte for byte in what matters.
    @Test func aSimpleCrossSitePostIs403BeforeAnyAction() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let response = try await httpRequest(port: api.port, "POST", "/v1/domains/test/pause", headers: [
            ("Origin", "http://evil.example"), ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Site", "cross-site"),
            ("Content-Type", "text/plain;charset=UTF-8"),
        ], body: Array("x".utf8))
        #expect(response.status == 403)
        let problem = try response.json()
        #expect(problem["type"] as? String == "https://virthost.dev/problems/origin-not-allowed")
        #expect(problem["request_id"] as? String == response.headers["x-request-id"])
        #expect(try await Self.state(api, "test") == "running")
        await api.stop()
    }

    @Test func aForeignHostIs421() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let response = try await httpRequest(port: api.port, "POST", "/v1/domains/test/pause",
                                             headers: [("Host", "rebind.example:\(api.port)")])
        #expect(response.status == 421)
        #expect(response.headers["content-type"] == "application/problem+json")
        #expect(try response.json()["type"] as? String == "https://virthost.dev/problems/host-not-allowed")
        #expect(try await Self.state(api, "test") == "running")
        let allowed = try APITestServer(uri: try Fixtures.privateTestDriverURI()) {
            $0.browserSafety = BrowserSafety(allowedHosts: ["virthost.example"])
        }
        let named = try await httpRequest(port: allowed.port, "/healthz", headers: [("Host", "virthost.example:\(allowed.port)")])
        #expect(named.status == 200)
        await allowed.stop()
        await api.stop()
    }

    /// A body read as JSON must say so: a form or text/plain body (which needs no preflight) is 415.
    @Test func aJSONRouteRefusesOtherMediaTypesWith415() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let body = Array(#"{"spec": {"name": "planted", "memory_mb": 64, "virt_type": "test"}}"#.utf8)
        for contentType in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            let response = try await httpRequest(port: api.port, "POST", "/v1/guests",
                                                 headers: [("Content-Type", contentType)], body: body)
            #expect(response.status == 415, "\(contentType)")
            let problem = try response.json()
            #expect(problem["type"] as? String == "https://virthost.dev/problems/unsupported-media-type")
            #expect(problem["accepted"] as? [String] == ["application/json"])
        }
        let missing = try await onOwnThread {
            let connection = try HTTPTestConnection(port: api.port)
            try connection.send("POST /v1/guests HTTP/1.1\r\nHost: \(connection.authority)\r\nContent-Length: \(body.count)\r\n\r\n")
            try connection.send(body)
            return try connection.readResponse()
        }
        #expect(missing.status == 415)
        #expect(try await Self.state(api, "planted") == nil)
        let charset = try await httpRequest(port: api.port, "POST", "/v1/guests/render",
                                            headers: [("Content-Type", "Application/JSON; charset=utf-8")],
                                            body: Array(#"{"name": "web1", "memory_mb": 64, "virt_type": "test"}"#.utf8))
        #expect(charset.status == 200)
        await api.stop()
    }

    /// A CORS preflight from an allowed origin is answered without credentials, with what the
    /// route takes; from any other origin it is refused.
    @Test func preflightsAnswerAllowedOriginsOnly() async throws {
        let authenticator = Authenticator(tokens: try TokenFile(parsing: "ops write \(SHA256.hex(Array("secret".utf8)))"))
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI()) {
            $0.browserSafety = BrowserSafety(allowedOrigins: ["https://console.example"])
            $0.admission = authenticator.admission
        }
        let preflight = try await httpRequest(port: api.port, "OPTIONS", "/v1/domains/test/pause", headers: [
            ("Origin", "https://console.example"), ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization, content-type"),
        ])
        #expect(preflight.status == 204)
        #expect(preflight.headers["access-control-allow-origin"] == "https://console.example")
        #expect(preflight.headers["access-control-allow-methods"] == "POST, OPTIONS")
        #expect(preflight.headers["access-control-allow-headers"]?.contains("Idempotency-Key") == true)
        #expect(preflight.headers["access-control-allow-headers"]?.contains("Last-Event-ID") == true)
        #expect(preflight.headers["vary"] == "Origin")

        let call = try await httpRequest(port: api.port, "GET", "/v1/domains/test", headers: [
            ("Origin", "https://console.example"), ("Authorization", "Bearer secret"),
        ])
        #expect(call.status == 200)
        #expect(call.headers["access-control-allow-origin"] == "https://console.example")
        #expect(call.headers["access-control-expose-headers"] == "Location, X-Request-Id, Retry-After")

        let other = try await httpRequest(port: api.port, "OPTIONS", "/v1/domains/test/pause", headers: [
            ("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST"),
        ])
        #expect(other.status == 403)
        #expect(other.headers["access-control-allow-origin"] == nil)
        await api.stop()
    }
}
