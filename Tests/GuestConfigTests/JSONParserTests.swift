@testable import GuestConfig
import Testing
import TestSupport

/// The spec reader's JSON parser: strict RFC 8259.
@Suite(.paced) struct JSONParserTests {
    func parses(_ text: String) -> Bool { (try? JSONParser.parse(Array(text.utf8))) != nil }

    @Test func acceptsJSON() throws {
        for text in [#"{}"#, #"[]"#, #" {"a": [1, -2.5e3, true, false, null, "x"]} "#, #""\u00e9\ud83d\ude00\n\"""#, "0", "-0.1"] {
            #expect(parses(text), "\(text)")
        }
        guard case .string(let string) = try JSONParser.parse(Array(#""a\u00e9\ud83d\ude00\t\/""#.utf8)) else {
            Issue.record("not a string")
            return
        }
        #expect(string == "aé😀\t/")
    }

    /// Raw (unescaped) UTF-8 in strings: kept byte for byte when valid, whether the run is
    /// ASCII (the fast path) or not, and reported as malformed when not valid.
    @Test func rawUTF8IsKeptOrReportedNeverRepaired() throws {
        let cases = [("plain", "plain"), ("é", "é"), ("a😀b", "a😀b"), ("日本", "日本"), (#"é\u0041ü x\ty"#, "éAü x\ty")]
        for (json, expected) in cases {
            guard case .string(let string) = try JSONParser.parse(Array("\"\(json)\"".utf8)) else {
                Issue.record("\(json): not a string")
                continue
            }
            #expect(Array(string.utf8) == Array(expected.utf8), "\(json)")
        }
        for bytes: [UInt8] in [[0xC3], [0x61, 0xFF, 0x62], [0xED, 0xA0, 0x80], [0x5C, 0x6E, 0xC3]] {
            let value = try JSONParser.parse([0x22] + bytes + [0x22])
            guard case .malformedString = value else {
                Issue.record("\(bytes) was accepted as \(value)")
                continue
            }
        }
    }

    @Test func refusesWhatIsNotJSON() {
        for text in ["", "{", #"{"a" 1}"#, "[1,]", "01", "1.", "+1", "tru", #""\x""#, "\"a\u{1}\"", #""\ud800""#, "{} {}", "NaN"] {
            #expect(!parses(text), "\(text)")
        }
    }

    /// A key given twice keeps its last value, as a dictionary would; objects of any size are
    /// searched right (large ones through an index) and every unread member is reported.
    @Test func objectsKeepTheLastValueAndReportEveryUnknownMember() throws {
        guard case .object(let object) = try JSONParser.parse(Array(#"{"a": 1, "b": 2, "a": 3}"#.utf8)) else {
            Issue.record("not an object")
            return
        }
        #expect(Array(object.keys) == ["a", "b"])
        guard let position = object.position(of: "a"), case .integer(let value) = object.members[position].value else {
            Issue.record("no a")
            return
        }
        #expect(value == 3)

        let unknown = (0..<100).map { "\"x\($0)\": \($0)" }.joined(separator: ", ")
        let (spec, errors) = GuestSpec.read(json: Array(#"{"name": "big", "#.utf8) + Array(unknown.utf8)
                                            + Array(#", "memory_mb": 64, "name": "last"}"#.utf8))
        #expect(spec?.name == "last" && spec?.memoryMB == 64)
        #expect(errors.map(\.pointer) == (0..<100).map { "/x\($0)" }.sorted())
    }

    @Test func refusesDeepNesting() {
        #expect(parses(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
        #expect(!parses(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)))
    }
}
