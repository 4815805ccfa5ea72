import Foundation
import Testing
import TestSupport

/// `POST /v1/domains/{ref}/send-key` on a private test driver (which takes keys as QEMU does,
/// without a keyboard to watch).
@Suite(.paced) struct SendKeyEndpointTests {
    static func send(_ port: UInt16, _ reference: String, _ body: String) async throws -> HTTPTestResponse {
        try await httpRequest(port: port, "POST", "/v1/domains/\(reference)/send-key", body: Array(body.utf8))
    }

    @Test func keysArePressedOnARunningDomainOnly() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let chord = try await Self.send(api.port, "test", #"{"keys":["KEY_LEFTCTRL","KEY_LEFTALT","KEY_DELETE"]}"#)
        #expect(chord.status == 204, "\(chord.text)")
        // An alias and a repeat are the same key, pressed once.
        #expect(try await Self.send(api.port, "test", #"{"keys":["KEY_HANGEUL","KEY_HANGUEL","KEY_A"],"hold_ms":50}"#).status == 204)

        let unknown = try await Self.send(api.port, "test", #"{"keys":["KEY_A","KEY_NOPE",3],"hold_ms":20000,"x":1}"#)
        #expect(unknown.status == 422, "\(unknown.text)")
        let pointers = try #require(try unknown.json()["errors"] as? [[String: Any]]).compactMap { $0["pointer"] as? String }
        #expect(Set(pointers) == ["/keys/1", "/keys/2", "/hold_ms", "/x"], "\(unknown.text)")

        // A name twice; a key of the header that libvirt's key maps do not have.
        for body in [#"{"keys":["KEY_A","KEY_A"]}"#, #"{"keys":["KEY_KBD_LCD_MENU5"]}"#] {
            let refused = try await Self.send(api.port, "test", body)
            #expect(refused.status == 422, "\(body): \(refused.text)")
            #expect((try refused.json()["errors"] as? [[String: Any]])?.last?["pointer"] as? String
                    == (body.contains("MENU5") ? "/keys/0" : "/keys/1"))
        }
        for body in [#"{"keys":[]}"#, "{}", #"{"keys":"KEY_A"}"#,
                     #"{"keys":[\#((1...17).map { "\"KEY_F\($0 <= 12 ? $0 : $0 + 1)\"" }.joined(separator: ","))]}"#] {
            let refused = try await Self.send(api.port, "test", body)
            #expect(refused.status == 422, "\(body): \(refused.text)")
        }

        _ = try await httpRequest(port: api.port, "POST", "/v1/domains/test/destroy")
        let stopped = try await Self.send(api.port, "test", #"{"keys":["KEY_A"]}"#)
        #expect(stopped.status == 409, "\(stopped.text)")
        #expect(try stopped.json()["state"] as? String == "shutoff")
        #expect(try await Self.send(api.port, "nonesuch", #"{"keys":["KEY_A"]}"#).status == 404)
        await api.stop()
    }
}
