import Foundation
import HTTPServer
import Logging
import TestSupport
import Testing

/// The server's WebSocket (RFC 6455) against an independent implementation: Python's
/// `websockets` client, which is strict about the protocol, and hand-made frames on a raw
/// socket for the peer's protocol errors.
@Suite(.paced) struct WebSocketTests {
    static let python = ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"]

    /// A server with `/ws/echo`, which echoes every message (64 KiB at most) and offers the
    /// subprotocol `echo`.
    static func startServer() throws -> HTTPServer {
        var router = Router()
        router.get("/ws/echo", options: RouteOptions(access: .write, upgrade: true)) { request in
            try .webSocket(request, subprotocols: ["echo"],
                           configuration: WebSocket.Configuration(maxMessageSize: 64 * 1024)) { socket in
                while let message = await socket.receive() {
                    guard await socket.send(message) else { return }
                }
            }
        }
        // The same echo, closed after one quiet second.
        router.get("/ws/idle", options: RouteOptions(access: .write, upgrade: true)) { request in
            try .webSocket(request, configuration: WebSocket.Configuration(idleTimeout: .seconds(1))) { socket in
                while let message = await socket.receive() {
                    guard await socket.send(message) else { return }
                }
            }
        }
        let configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0, shutdownGracePeriod: .seconds(5))
        let server = HTTPServer(configuration: configuration, router: router, logger: Logger(label: "test"))
        try server.start()
        return server
    }

    @Test func theAcceptValueIsRFC6455sExample() {
        // RFC 6455 §1.3's worked example.
        #expect(WebSocketHandshake.accept(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test(.enabled(if: python != nil, "VIRTHOST_TEST_PYTHON names a Python with websockets"))
    func aStrictClientAndMalformedFramesGetWhatRFC6455Prescribes() async throws {
        let server = try Self.startServer()
        let python = try #require(Self.python)
        let port = server.port
        let output = try await onOwnThread {
            try run(python, [Fixtures.path("websocket_client.py"), String(port), "/ws/echo"])
        }
        await server.shutdown()
        let line = try #require(output.split(separator: "\n").last, "websocket_client.py printed nothing")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(output)")

        #expect(seen["subprotocol"] as? String == "echo")
        #expect(seen["text"] as? String == "héllo ☃")
        #expect(seen["binary_ok"] as? Bool == true)
        #expect(seen["fragmented"] as? String == "fragmented text")
        #expect(seen["pong"] as? Bool == true)
        #expect(seen["close_code"] as? Int == 4001, "the server answers a close with the peer's code")
        #expect(seen["handshake_status"] as? Int == 101)
        #expect(seen["accept_matches_hashlib"] as? Bool == true)

        let codes = try #require(seen["codes"] as? [String: Int], "\(output)")
        let expected: [String: Int] = [
            "unmasked": 1002, "bad_opcode": 1002, "reserved_bit": 1002,
            "oversized_frame": 1009, "oversized_fragments": 1009,
            "invalid_utf8": 1007, "invalid_utf8_across_fragments": 1007,
            "close_mid_fragmented": 1000, "new_message_mid_fragmented": 1002, "continuation_without_start": 1002,
            "fragmented_ping": 1002, "long_ping": 1002,
            "close_code_1005": 1002, "close_one_byte": 1002, "close_reason_not_utf8": 1007, "close_empty": 1000,
        ]
        for (name, code) in expected { #expect(codes[name] == code, "\(name)") }

        let refused = try #require(seen["refused"] as? [String: [String: Any]], "\(output)")
        #expect(refused["version_8"]?["status"] as? Int == 426)
        #expect(refused["version_8"]?["version"] as? String == "13")
        #expect(refused["no_upgrade"]?["status"] as? Int == 426)
        #expect(refused["no_key"]?["status"] as? Int == 400)
        #expect(refused["short_key"]?["status"] as? Int == 400)
        #expect(refused["foreign_origin"]?["status"] as? Int == 403, "a foreign Origin is refused before the upgrade")
        #expect(seen["own_origin_status"] as? Int == 101)
        for (_, answer) in refused { #expect(answer["type"] as? String == "application/problem+json") }
    }

    /// A quiet socket is closed with 1001 after the idle timeout; one that keeps talking stays.
    @Test(.enabled(if: python != nil, "VIRTHOST_TEST_PYTHON names a Python with websockets"))
    func aQuietSocketIsClosedAfterTheIdleTimeout() async throws {
        let server = try Self.startServer()
        let python = try #require(Self.python)
        let port = server.port
        let output = try await onOwnThread {
            try run(python, [Fixtures.path("websocket_idle.py"), String(port), "/ws/idle"])
        }
        await server.shutdown()
        let line = try #require(output.split(separator: "\n").last, "websocket_idle.py printed nothing")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(output)")
        #expect(seen["quiet_code"] as? Int == 1001)
        #expect((seen["quiet_reason"] as? String)?.contains("idle") == true)
        let seconds = try #require(seen["quiet_seconds"] as? Double)
        print("idle close after \(seconds) s (timeout 1 s)")
        #expect(seconds >= 0.9 && seconds < 10 * TestTiming.slowdown, "closed after the timeout, not before")
        #expect(seen["talking_open"] as? Bool == true, "a socket that talks every 0.3 s outlives the timeout")
    }
}
