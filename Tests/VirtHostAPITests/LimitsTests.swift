import Foundation
import HTTPServer
import Testing
import TestSupport

/// Each input limit crossed: the documented answer comes, and the service goes on serving others.
@Suite(.paced) struct LimitsTests {
    static func stillServes(_ port: UInt16) async throws -> Bool {
        try await httpRequest(port: port, "/v1/host").status == 200
    }

    @Test func headersBeyondTheConnectionMemoryAre431() async throws {
        let api = try APITestServer { $0.connectionMemoryLimit = 16 * 1024 }
        defer { Task { await api.stop() } }
        let huge = try await httpRequest(port: api.port, "/v1/host",
                                         headers: [("X-Padding", String(repeating: "a", count: 32 * 1024))])
        #expect(huge.status == 431)
        let fits = try await httpRequest(port: api.port, "/v1/host",
                                         headers: [("X-Padding", String(repeating: "a", count: 4 * 1024))])
        #expect(fits.status == 200)
        #expect(try await Self.stillServes(api.port))
    }

    @Test func jsonNestedBeyond64LevelsIs400() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        func nested(_ depth: Int) -> [UInt8] {
            Array((#"{"spec":"# + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}").utf8)
        }
        let deep = try await httpRequest(port: api.port, "POST", "/v1/guests/render", body: nested(65))
        #expect(deep.status == 400)
        #expect(try deep.json()["type"] as? String == "https://virthost.dev/problems/malformed-json")
        // 100,000 levels: refused the same way, not a stack overflow.
        let abyss = try await httpRequest(port: api.port, "POST", "/v1/guests", body: nested(100_000))
        #expect(abyss.status == 400)
        // At the limit the document parses; its content is what is wrong.
        let atLimit = try await httpRequest(port: api.port, "POST", "/v1/guests/render", body: nested(64))
        #expect(atLimit.status == 422)
        let notJSON = try await httpRequest(port: api.port, "POST", "/v1/guests/render", body: Array("{name:".utf8))
        #expect(notJSON.status == 400)
        #expect(try await Self.stillServes(api.port))
    }

    /// An empty body says so; a syntax error says where (line, column, byte offset).
    @Test func malformedBodiesSayWhatAndWhere() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        func detail(_ path: String, _ body: String) async throws -> String? {
            let response = try await httpRequest(port: api.port, "POST", path,
                                                 headers: [("Content-Type", "application/json")], body: Array(body.utf8))
            #expect(response.status == 400, "\(body)")
            #expect(try response.json()["type"] as? String == "https://virthost.dev/problems/malformed-json")
            return try response.json()["detail"] as? String
        }
        #expect(try await detail("/v1/guests", "") == "the request body is empty")
        #expect(try await detail("/v1/guests/render", " \n") == "the request body is empty")
        #expect(try await detail("/v1/guests/render", "{\n  \"name\": x}")
                == "the request body is not valid JSON: unexpected character at line 2, column 11 (byte offset 12)")
        #expect(try await detail("/v1/guests", #"{"spec":"#)
                == "the request body is not valid JSON: ends early at line 1, column 9 (byte offset 8)")
        #expect(try await detail("/v1/domains/test/devices", "[1,]")
                == "the request body is not valid JSON: unexpected character at line 1, column 4 (byte offset 3)")
    }

    @Test func bodiesBeyondTheCapAre413() async throws {
        let api = try APITestServer { $0.maxBodySize = 64 * 1024 }
        defer { Task { await api.stop() } }
        let big = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(repeating: 0x20, count: 200 * 1024))
        #expect(big.status == 413)
        #expect(try big.json()["limit_bytes"] as? Int == 64 * 1024)
        #expect(try await Self.stillServes(api.port))
    }

    /// 500 clients send half a request and stall: another client is still served at once,
    /// and the stalled ones are closed at the connection timeout.
    @Test func stalledClientsNeitherBlockOthersNorStay() async throws {
        // Under a sanitizer every time here scales by TestTiming's factor: a stall of the
        // instrumented suites must not pass for a server held up by the stalled clients.
        let slowdown = Int(TestTiming.slowdown)
        // The connection timeout is long (8 s) so that the bound below (4 s) leaves room for the
        // moment every suite starts at once on two cores, when a lone request can wait 1.3 s.
        let api = try APITestServer { $0.connectionTimeout = 8 * slowdown }
        defer { Task { await api.stop() } }
        let port = api.port
        let stalled = try await onOwnThread { () -> [HTTPTestConnection] in
            try (0..<500).map { _ in
                let connection = try HTTPTestConnection(port: port, timeout: 20)
                try connection.send("POST /v1/guests HTTP/1.1\r\nHost: \(connection.authority)\r\nContent-Type: application/json\r\n"
                                    + "Content-Length: 100\r\n\r\n{\"spec\":")
                return connection
            }
        }
        // Three normal requests, each on a new connection. A server held up by the stalled
        // clients would keep all three waiting until their time-out (8 s); the quickest must be
        // served within half of it even on a loaded machine (the whole suite runs beside it, or
        // a sanitizer slows it), which the slowest of three need not be.
        var elapsed: [Duration] = []
        for _ in 0..<3 {
            let started = ContinuousClock.now
            let served = try await httpRequest(port: port, "/v1/host", timeout: 15)
            elapsed.append(ContinuousClock.now - started)
            #expect(served.status == 200)
        }
        #expect(elapsed.min()! < TestTiming.scaled(.seconds(4)), "normal requests took \(elapsed) beside 500 stalled clients")
        print("normal requests beside 500 stalled clients: \(elapsed)")

        let closed = try await onOwnThread { stalled.filter { $0.isClosedByPeer() }.count }
        #expect(closed == 500, "only \(closed) of 500 stalled connections were closed at the time-out")
        #expect(try await Self.stillServes(port))
    }
}
