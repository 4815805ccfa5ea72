import Foundation
import HTTPServer
import Testing
import TestSupport
import VirtHostAPI

/// `POST /v1/guests` with `Idempotency-Key`: a retry gets the first answer and makes nothing new.
@Suite(.paced) struct IdempotencyTests {
    static func create(_ api: APITestServer, _ body: String, key: String?,
                       token: String? = nil) async throws -> HTTPTestResponse {
        var headers: [(String, String)] = key.map { [("Idempotency-Key", $0)] } ?? []
        if let token { headers += AccessTests.bearer(token) }
        return try await httpRequest(port: api.port, "POST", "/v1/guests", headers: headers, body: Array(body.utf8))
    }

    static func domainCount(_ api: APITestServer) async throws -> Int {
        let list = try await httpRequest(port: api.port, "/v1/domains?state=all").json()
        return (list["domains"] as? [Any])?.count ?? -1
    }

    @Test func aRetryReturnsTheFirstAnswerAndCreatesNothing() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        defer { Task { await api.stop() } }
        let body = GuestLifecycleEndpointTests.creation("idem-1", start: false)
        let before = try await Self.domainCount(api)
        let first = try await Self.create(api, body, key: "3f1c0d52-key")
        #expect(first.status == 201, "\(first.text)")
        let retry = try await Self.create(api, body, key: "3f1c0d52-key")
        #expect(retry.status == 201)
        #expect(retry.body == first.body)
        #expect(retry.headers["location"] == first.headers["location"])
        #expect(retry.headers["idempotent-replayed"] == "true")
        #expect(first.headers["idempotent-replayed"] == nil)
        #expect(try await Self.domainCount(api) == before + 1)
        // Without the key the same body is a second attempt, and meets the first guest.
        #expect(try await Self.create(api, body, key: nil).status == 409)
    }

    @Test func theSameKeyWithAnotherBodyIs422() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        defer { Task { await api.stop() } }
        _ = try await Self.create(api, GuestLifecycleEndpointTests.creation("idem-a", start: false), key: "k-1")
        let other = try await Self.create(api, GuestLifecycleEndpointTests.creation("idem-b", start: false), key: "k-1")
        #expect(other.status == 422)
        let problem = try other.json()
        #expect(problem["type"] as? String == "https://virthost.dev/problems/idempotency-key-reused")
        #expect(problem["parameter"] as? String == "Idempotency-Key")
        #expect(try await httpRequest(port: api.port, "/v1/domains/idem-b").status == 404)
    }

    @Test func concurrentRetriesMakeOneGuest() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        defer { Task { await api.stop() } }
        let body = GuestLifecycleEndpointTests.creation("idem-race")
        let before = try await Self.domainCount(api)
        let answers = try await withThrowingTaskGroup(of: HTTPTestResponse.self) { group in
            for _ in 0..<8 { group.addTask { try await Self.create(api, body, key: "race-key") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.allSatisfy { $0.status == 201 }, "\(answers.map(\.status))")
        #expect(Set(answers.map(\.body)).count == 1)
        #expect(answers.filter { $0.headers["idempotent-replayed"] == nil }.count == 1)
        #expect(try await Self.domainCount(api) == before + 1)
    }

    @Test func failuresAreReplayedButServerErrorsAreNot() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        defer { Task { await api.stop() } }
        let invalid = #"{"spec":{"name":"idem-bad","memory_mb":0,"virt_type":"test"}}"#
        let first = try await Self.create(api, invalid, key: "bad-key")
        #expect(first.status == 422)
        let again = try await Self.create(api, invalid, key: "bad-key")
        #expect(again.status == 422 && again.headers["idempotent-replayed"] == "true")
        // A malformed key is a 400 naming the header.
        let badKey = try await Self.create(api, invalid, key: "has space")
        #expect(badKey.status == 400)
        #expect(try badKey.json()["parameter"] as? String == "Idempotency-Key")
    }

    @Test func keysBelongToTheirCaller() async throws {
        let authenticator = Authenticator(tokens: try TokenFile(parsing: """
            a write \(try AccessTests.sha256Hex("token-a"))
            b write \(try AccessTests.sha256Hex("token-b"))
            """))
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI()) { $0.admission = authenticator.admission }
        defer { Task { await api.stop() } }
        let first = try await Self.create(api, GuestLifecycleEndpointTests.creation("idem-owner", start: false),
                                          key: "shared", token: "token-a")
        #expect(first.status == 201)
        // Another caller's same key and body is its own request: it meets the existing guest.
        let second = try await Self.create(api, GuestLifecycleEndpointTests.creation("idem-owner", start: false),
                                           key: "shared", token: "token-b")
        #expect(second.status == 409)
        #expect(second.headers["idempotent-replayed"] == nil)
    }

    @Test func answersExpire() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(),
                                    idempotency: .init(lifetime: .milliseconds(300)))
        defer { Task { await api.stop() } }
        let body = GuestLifecycleEndpointTests.creation("idem-expire", start: false)
        #expect(try await Self.create(api, body, key: "short").status == 201)
        try await Task.sleep(for: .milliseconds(600))
        let later = try await Self.create(api, body, key: "short")
        #expect(later.status == 409, "an expired key runs the request again")
    }

    @Test func theStoreKeepsAtMostItsCapacity() async throws {
        let store = IdempotencyStore(configuration: .init(capacity: 3))
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI(), idempotency: store.configuration)
        defer { Task { await api.stop() } }
        for index in 0..<6 {
            _ = try await Self.create(api, #"{"spec":{"name":"cap-\#(index)","memory_mb":0}}"#, key: "cap-\(index)")
        }
        #expect(await api.idempotencyCount() <= 3)
    }
}
