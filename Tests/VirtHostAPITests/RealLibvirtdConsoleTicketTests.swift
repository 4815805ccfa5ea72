import Foundation
import HTTPServer
import Locking
import Testing
import TestSupport
import VirtHostAPI

/// Console tickets against the real libvirtd: a browser's way to open a console with no
/// bearer token. The successful use is a full RFB handshake by Python's `websockets` client.
extension RealLibvirtdTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"] != nil,
                   "VIRTHOST_TEST_PYTHON names a Python with websockets"))
    func consoleTicketsOpenOneConsoleOfOneDomainOnceBeforeTheyExpire() async throws {
        let python = try #require(ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"])
        let name = Self.guestName(), other = Self.guestName()
        defer { removeGuest(name); removeGuest(other) }
        // Expiry is measured on a clock the test advances by hand.
        let skew = Mutex<Duration>(.zero)
        let tickets = ConsoleTickets(configuration: .init(now: { ContinuousClock.now + skew.withLock { $0 } }))
        let audit = LogCapture()
        let authenticator = Authenticator(tokens: try AccessTests.tokens())
        let api = try APITestServer(uri: uri, audit: AuditLog(logger: audit.logger), consoleTickets: tickets) {
            $0.admission = authenticator.admission
        }
        let writer = [("Authorization", "Bearer \(AccessTests.writerToken)")]
        let reader = [("Authorization", "Bearer \(AccessTests.readerToken)")]
        for (guest, start) in [(name, true), (other, false)] {
            let created = try await httpRequest(port: api.port, "POST", "/v1/guests", headers: writer, body: Array(#"""
                {"spec":{"name":"\#(guest)","memory_mb":64,"virt_type":"\#(RealLibvirtd.virtType)","os":{"boot":["hd"]},
                         "cpu":\#(RealLibvirtd.startableCPU)},"start":\#(start)}
                """#.utf8), timeout: 60)
            #expect(created.status == 201, "\(created.text)")
        }
        let port = api.port
        func issue(_ kind: String, for guest: String = name, headers: [(String, String)] = writer) async throws -> HTTPTestResponse {
            try await httpRequest(port: port, "POST", "/v1/domains/\(guest)/console-tickets", headers: headers,
                                  body: Array(#"{"kind":"\#(kind)"}"#.utf8))
        }
        func ticket(_ kind: String, for guest: String = name) async throws -> String {
            let issued = try await issue(kind, for: guest)
            #expect(issued.status == 201, "\(issued.text)")
            return try #require(try issued.json()["ticket"] as? String)
        }
        /// A WebSocket upgrade that is refused: its status and problem.
        func upgrade(_ path: String, _ headers: [(String, String)] = []) async throws -> (Int, [String: Any]) {
            let response = try await httpRequest(port: port, path, headers: [
                ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")] + headers)
            return (response.status, (try? response.json()) ?? [:])
        }

        // Who may ask: write scope only.
        #expect(try await issue("vnc", headers: []).status == 401)
        #expect(try await issue("vnc", headers: reader).status == 403)
        let badKind = try await issue("spice")
        #expect(badKind.status == 422)
        #expect(try badKind.json()["type"] as? String == "https://virthost.dev/problems/invalid-console-ticket-request")
        #expect(try await issue("vnc", for: "no-such-domain-\(UUID().uuidString.prefix(8))").status == 404)

        let issued = try await issue("vnc")
        #expect(issued.status == 201, "\(issued.text)")
        #expect(issued.headers["cache-control"] == "no-store")
        let body = try issued.json()
        let secret = try #require(body["ticket"] as? String)
        #expect(secret.count == 64 && secret.allSatisfy(\.isHexDigit), "256 random bits in hex")
        let url = try #require(body["url"] as? String)
        #expect(url.hasSuffix("/console/vnc?ticket=\(secret)"))
        let expiresAt = try #require((body["expires_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
        #expect(abs(expiresAt.timeIntervalSinceNow - 30) < 5, "30 s from now: \(expiresAt)")

        // The ticket alone opens the display, once.
        let seen = try await vncClient(python, "ws://127.0.0.1:\(port)\(url)")
        #expect(seen["status"] as? Int == 101, "\(seen)")
        #expect(seen["version"] as? String == "RFB 003.008\n")
        #expect(seen["update_type"] as? Int == 0)
        let spent = try await upgrade(url)
        #expect(spent.0 == 401)
        #expect(spent.1["type"] as? String == "https://virthost.dev/problems/unauthorized")
        #expect((spent.1["detail"] as? String)?.contains("already used") == true)

        // Bound to the kind and the domain; a refused use spends it too.
        let serial = try await ticket("serial")
        let wrongKind = try await upgrade("/v1/domains/\(name)/console/vnc?ticket=\(serial)")
        #expect(wrongKind.0 == 401)
        #expect((wrongKind.1["detail"] as? String)?.contains("serial console") == true)
        #expect(try await upgrade("/v1/domains/\(name)/console/serial?ticket=\(serial)").0 == 401)
        let forOther = try await ticket("vnc", for: other)
        let wrongDomain = try await upgrade("/v1/domains/\(name)/console/vnc?ticket=\(forOther)")
        #expect(wrongDomain.0 == 401)
        #expect((wrongDomain.1["detail"] as? String)?.contains("another domain") == true)

        // Expiry: 30 s by default.
        let late = try await ticket("vnc")
        skew.withLock { $0 = .seconds(31) }
        let expired = try await upgrade("/v1/domains/\(name)/console/vnc?ticket=\(late)")
        #expect(expired.0 == 401)
        #expect((expired.1["detail"] as? String)?.contains("expired") == true)
        #expect(tickets.count == 0, "no ticket outlives its use")

        // Neither token nor ticket; a made-up ticket; a reader's token; a foreign Origin.
        #expect(try await upgrade("/v1/domains/\(name)/console/vnc").0 == 401)
        #expect(try await upgrade("/v1/domains/\(name)/console/vnc?ticket=\(String(repeating: "ab", count: 32))").0 == 401)
        #expect(try await upgrade("/v1/domains/\(name)/console/vnc", reader).0 == 403)
        let foreign = try await upgrade("/v1/domains/\(name)/console/vnc", writer + [("Origin", "https://evil.example")])
        #expect(foreign.0 == 403)
        #expect(foreign.1["type"] as? String == "https://virthost.dev/problems/origin-not-allowed")
        await api.stop()

        // The session's start and end are audited with the ticket's token name.
        let sessions = audit.records.filter { $0.metadata["event"]?.hasPrefix("console_session_") == true }
        #expect(sessions.map { $0.metadata["event"] ?? "" } == ["console_session_start", "console_session_end"])
        #expect(sessions.allSatisfy { $0.metadata["principal"] == "ops" && $0.metadata["authorised_by"] == "ticket" })
        #expect(sessions.allSatisfy { $0.metadata["console"] == "vnc" && url.hasPrefix("/v1/domains/\($0.metadata["domain"] ?? "-")/") })
    }
}
