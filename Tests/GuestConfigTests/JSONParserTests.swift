@testable import GuestConfig
import Testing

/// The spec reader's JSON parser: strict RFC 8259.
@Suite struct JSONParserTests {
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

    @Test func refusesWhatIsNotJSON() {
        for text in ["", "{", #"{"a" 1}"#, "[1,]", "01", "1.", "+1", "tru", #""\x""#, "\"a\u{1}\"", #""\ud800""#, "{} {}", "NaN"] {
            #expect(!parses(text), "\(text)")
        }
    }

    @Test func refusesDeepNesting() {
        #expect(parses(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
        #expect(!parses(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)))
    }
}
