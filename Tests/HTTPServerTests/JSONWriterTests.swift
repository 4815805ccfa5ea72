import Foundation
@testable import HTTPServer
import Testing
import TestSupport

/// ``JSONWriter`` must write exactly the bytes Foundation's `JSONEncoder` writes with the
/// service's settings: every document here is encoded by both and compared byte for byte.
@Suite(.paced) struct JSONWriterTests {
    static func foundation<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONWriter.foundationEncoder().encode(value), as: UTF8.self)
    }

    static func ours<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONWriter.encode(value), as: UTF8.self)
    }

    /// Both encoders' bytes for `value`, and that the writer wrote it itself (no fallback).
    static func expectSame<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try foundation(value)
        let encoder = JSONWriterEncoder()
        try encoder.writeDocument(value)
        #expect(String(decoding: encoder.bytes, as: UTF8.self) == expected, sourceLocation: sourceLocation)
    }

    struct Scalars: Encodable {
        var text = "plain"
        var int = -42
        var uint64 = UInt64.max
        var int64 = Int64.min
        var int8: Int8 = -128
        var uint8: UInt8 = 255
        var bool = true
        var double = 0.1
        var float: Float = 1.5
        var optional: Int? = nil
        var present: Int? = 7
    }

    @Test func scalarsAndOmittedOptionals() throws {
        try Self.expectSame(Scalars())
        try Self.expectSame(Scalars(text: "", int: 0, uint64: 0, int64: 0, int8: 0, uint8: 0, bool: false,
                                    double: -0.0, float: -1e-30, optional: 1, present: nil))
    }

    @Test func stringEscapesAndUnicode() throws {
        let strings = [
            "quote \" backslash \\ slash / done",
            "\u{0}\u{1}\u{7}\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}\u{E}\u{F}\u{10}\u{1F}\u{20}\u{7F}",
            "é, ü, ß, 日本語, 🚀, \u{2028}\u{2029}, e\u{301}",
            "</script><!-- & ' >",
            "",
            String(repeating: "long run without escapes ", count: 40) + "\n",
        ]
        for string in strings {
            try Self.expectSame(string)
            try Self.expectSame([string: string])
        }
        try Self.expectSame(strings)
    }

    @Test func doubles() throws {
        var values: [Double] = [0, -0.0, 1, -1, 0.1, 0.5, 1.0 / 3, 2.5e-8, 1e-7, 123456789.125, 1e15, 1e16, 1e17,
                                 1e21, 1e22, 1.7976931348623157e308, .leastNonzeroMagnitude, 2.2250738585072014e-308, 100, 4096.0,
                                 9007199254740992, -273.15]
        var generator = SeededGenerator(seed: 10)
        for _ in 0..<2000 {
            values.append(Double(bitPattern: generator.next() & 0x7FEF_FFFF_FFFF_FFFF) * (generator.next() % 2 == 0 ? 1 : -1))
            values.append(Double(Int64(bitPattern: generator.next()) % 1_000_000) / 1000)
        }
        for value in values {
            try Self.expectSame(value)
        }
        try Self.expectSame(values)
        try Self.expectSame(values.map(Float.init).filter(\.isFinite))
        try Self.expectSame(["a": values])
    }

    @Test func nonFiniteDoublesFailLikeJSONEncoder() {
        for value in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try JSONWriter.encode(value) }
            #expect(throws: EncodingError.self) { try JSONWriter.encode(["x": value]) }
        }
    }

    @Test func dates() throws {
        var dates = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -1), Date(timeIntervalSince1970: 0.999),
                     Date(timeIntervalSince1970: -0.001), Date(timeIntervalSince1970: 951_782_400) /* 2000-02-29 */,
                     Date(timeIntervalSince1970: 4_107_542_399.9) /* 2100-02-28T23:59:59.9 */,
                     Date(timeIntervalSinceReferenceDate: 0), Date(timeIntervalSince1970: -2_208_988_800) /* 1900 */,
                     Date(timeIntervalSince1970: -12_212_553_600) /* 1583-01-01 */,
                     Date(timeIntervalSince1970: 253_402_300_799) /* 9999-12-31T23:59:59 */]
        var generator = SeededGenerator(seed: 20)
        for _ in 0..<3000 {
            // 1600 to 2400, with fractions of a second.
            let seconds = Double(Int64(bitPattern: generator.next() % 25_000_000_000) - 11_000_000_000)
            dates.append(Date(timeIntervalSince1970: seconds + Double(generator.next() % 1000) / 1000))
        }
        for date in dates {
            try Self.expectSame(date)
        }
        // Beyond what the writer formats itself, Foundation writes it.
        for date in [Date(timeIntervalSince1970: 253_402_300_800 + 86_400 * 400),
                     Date(timeIntervalSince1970: -12_212_553_601), Date(timeIntervalSince1970: -62_135_596_800)] {
            #expect(try Self.ours(date) == Self.foundation(date))
        }
    }

    struct Tree: Encodable {
        var zebra: [Tree] = []
        var alpha: String
        var middle: [String: Int?]
        var when: Date
        var nothing: Int? = nil
        var blob = Data([0, 1, 2, 250, 251, 252])
        var link = URL(string: "https://virthost.dev/problems/not-found?x=1")!
        var amount = Decimal(string: "12.50")!
        var nested: [[Double]] = [[], [1, 2.5], [-0.0]]
        var emptyObject: [String: String] = [:]
        var byInt: [Int: String] = [10: "ten", 9: "nine", -1: "minus"]
    }

    @Test func nestedObjectsArraysAndFoundationTypes() throws {
        let leaf = Tree(alpha: "leaf", middle: ["b": 2, "a": nil, "A": 0, "é": 1, "e": 3, "": 4],
                        when: Date(timeIntervalSince1970: 1_795_000_000))
        let tree = Tree(zebra: [leaf, leaf], alpha: "root", middle: [:], when: Date(timeIntervalSince1970: 0))
        try Self.expectSame(tree)
        try Self.expectSame([tree])
        try Self.expectSame(["list": [tree], "none": []])
    }

    /// Optionals written as null (as `NullWhenAbsent` does) and left out (synthesised), nested.
    struct Nullable<Value: Encodable>: Encodable {
        var value: Value?
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if let value { try container.encode(value) } else { try container.encodeNil() }
        }
    }

    struct Optionals: Encodable {
        var a: Nullable<Int>
        var b: Nullable<Nullable<String>>
        var c: Nullable<[Nullable<Double>]>
        var d: [String: Nullable<Bool>]
        var e: Int??
        var f: [Nullable<Optionals>]?
    }

    @Test func nestedOptionals() throws {
        let inner = Optionals(a: .init(value: nil), b: .init(value: .init(value: nil)), c: .init(value: [.init(value: nil), .init(value: 2)]),
                              d: ["x": .init(value: nil), "y": .init(value: true)], e: .some(nil), f: nil)
        try Self.expectSame(inner)
        try Self.expectSame(Optionals(a: .init(value: 1), b: .init(value: nil), c: .init(value: nil), d: [:], e: 3,
                                      f: [.init(value: inner), .init(value: nil)]))
        try Self.expectSame(Optional<Int>.none)
        try Self.expectSame(Nullable<Int>(value: nil))
    }

    /// Hand-written encoders: nested containers, the same object asked for twice, nothing.
    struct HandWritten: Encodable {
        enum Keys: String, CodingKey { case outer, list, zz, aa, mm }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .zz)
            var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .outer)
            try nested.encode("n", forKey: .mm)
            var list = nested.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            var item = list.nestedContainer(keyedBy: Keys.self)
            try item.encode(true, forKey: .zz)
            try item.encodeNil(forKey: .aa)
            try list.encode("after")
            var again = encoder.container(keyedBy: Keys.self)
            try again.encode(2, forKey: .aa)
            try container.encode([Empty(), Empty()], forKey: .list)
        }
    }

    struct Empty: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    @Test func handWrittenEncoders() throws {
        try Self.expectSame(HandWritten())
        try Self.expectSame([HandWritten(), HandWritten()])
        try Self.expectSame(["empty": Empty()])
    }

    /// What the writer does not follow goes to Foundation: the bytes still match.
    struct DuplicateKey: Encodable {
        enum Keys: String, CodingKey { case a }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .a)
            try container.encode(2, forKey: .a)
        }
    }

    final class Base: Encodable {
        var base = 1
    }

    final class WithSuper: Encodable {
        enum Keys: String, CodingKey { case own }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode("x", forKey: .own)
            try Base().encode(to: container.superEncoder())
        }
    }

    @Test func unsupportedEncodingsFallBackToFoundation() throws {
        #expect(try Self.ours(DuplicateKey()) == Self.foundation(DuplicateKey()))
        #expect(try Self.ours(WithSuper()) == Self.foundation(WithSuper()))
        #expect(try Self.ours(["k": WithSuper()]) == Self.foundation(["k": WithSuper()]))
    }

    @Test func jsonValueAndProblemDocuments() throws {
        let value = JSONValue.object(["errors": .array([.object(["pointer": .string("/disks/0/source"),
                                                                  "detail": .string("must be absolute \"/\"")])]),
                                      "status": .int(422), "ratio": .double(0.25), "flag": .bool(false), "none": .null])
        #expect(String(decoding: value.encoded(), as: UTF8.self) == (try Self.foundation(value)))
        let problem = Problem.badRequest("bad \u{1} value", parameter: "state")
        let encoded = problem.encoded(instance: "/v1/domains?state=x", requestID: "r-1")
        #expect(String(decoding: encoded, as: UTF8.self) == #"{"detail":"bad \u0001 value","instance":"/v1/domains?state=x","parameter":"state","request_id":"r-1","status":400,"title":"Bad Request","type":"https://virthost.dev/problems/bad-request"}"#)
    }

    @Test func randomDocuments() throws {
        var generator = SeededGenerator(seed: 30)
        for _ in 0..<300 {
            try Self.expectSame(JSONValue.random(&generator, depth: 0))
        }
    }
}

extension JSONValue {
    static func random(_ generator: inout SeededGenerator, depth: Int) -> JSONValue {
        let pieces = ["a", "B", "é", "\"", "\\", "/", "\n", "\u{1}", "日", "🚀", " ", "z", "0"]
        func text() -> String { (0..<Int(generator.next() % 6)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined() }
        switch generator.next() % (depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(generator.next() % 2 == 0)
        case 2: return .int(Int(bitPattern: UInt(generator.next())) >> Int(generator.next() % 64))
        case 3: return .double(Double(Int64(bitPattern: generator.next()) % 1_000_000_000) / 997)
        case 4: return .string(text())
        case 5: return .array((0..<Int(generator.next() % 5)).map { _ in random(&generator, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int(generator.next() % 6) { members[text()] = random(&generator, depth: depth + 1) }
            return .object(members)
        }
    }
}

/// SplitMix64: reproducible random documents.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
