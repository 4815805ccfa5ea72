/// A small strict JSON parser (RFC 8259) over UTF-8 bytes, straight into ``JSON``: the spec
/// reader needs the document as a tree, and decoding it through `Decodable` by trial and
/// error cost most of a render.
/// Where and why a body failed to parse, so the client can find the fault.
struct JSONSyntaxError: Error, CustomStringConvertible {
    enum Reason { case empty, tooDeep, syntax, truncated }
    let reason: Reason
    /// Zero-based byte offset of the first byte that could not be read (the length when the
    /// document ends too early); line and column (in bytes) are one-based.
    let offset: Int
    let line: Int
    let column: Int

    /// Starts with ``GuestSpecError/notJSON`` unless the body is empty, so clients and
    /// ``GuestSpecError/isMalformedJSON`` recognise it.
    var description: String {
        let place = "line \(line), column \(column) (byte offset \(offset))"
        return switch reason {
        case .empty: GuestSpecError.emptyBody
        case .tooDeep: "\(GuestSpecError.notJSON): nests deeper than \(JSONParser.maximumDepth) levels at \(place)"
        case .truncated: "\(GuestSpecError.notJSON): ends early at \(place)"
        case .syntax: "\(GuestSpecError.notJSON): unexpected character at \(place)"
        }
    }
}

struct JSONParser {
    struct Failure: Error {}

    /// Parses, and on failure says where: the first byte that could not be read.
    static func parseLocating(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSON {
        var parser = JSONParser(bytes: bytes)
        do throws(Failure) {
            let value = try parser.value()
            parser.skipWhitespace()
            guard parser.index == bytes.count else { throw Failure() }
            return value
        } catch {
            // A mutating method that throws leaves the parser where it stopped.
            let isBlank = bytes.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
            let offset = min(parser.index, bytes.count)
            let reason: JSONSyntaxError.Reason = isBlank ? .empty
                : parser.depth > maximumDepth ? .tooDeep
                : offset >= bytes.count ? .truncated : .syntax
            let before = bytes[..<offset]
            let line = before.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
            let column = offset - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            throw JSONSyntaxError(reason: reason, offset: offset, line: line, column: column)
        }
    }

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    /// Deeper documents are refused: no spec nests anywhere near this.
    static let maximumDepth = 64

    static func parse(_ bytes: [UInt8]) throws(Failure) -> JSON {
        var parser = JSONParser(bytes: bytes)
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw Failure() }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func expect(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Failure() }
        let matches = literal.withUTF8Buffer { literal in
            (0..<count).allSatisfy { bytes[index + $0] == literal[$0] }
        }
        guard matches else { throw Failure() }
        index += count
    }

    private mutating func value() throws(Failure) -> JSON {
        skipWhitespace()
        guard index < bytes.count else { throw Failure() }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return try string().map(JSON.string) ?? .malformedString
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default: return try number()
        }
    }

    private mutating func nested<T>(_ body: (inout JSONParser) throws(Failure) -> T) throws(Failure) -> T {
        depth += 1
        guard depth <= Self.maximumDepth else { throw Failure() }
        defer { depth -= 1 }
        return try body(&self)
    }

    private mutating func object() throws(Failure) -> JSON {
        try nested { (parser: inout JSONParser) throws(Failure) -> JSON in
            parser.index += 1
            var members = JSONObject()
            parser.skipWhitespace()
            if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "}") {
                parser.index += 1
                return .object(members)
            }
            while true {
                parser.skipWhitespace()
                guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else { throw Failure() }
                // A member name that is not UTF-8 names no field there is.
                guard let key = try parser.string() else { throw Failure() }
                parser.skipWhitespace()
                guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: ":") else { throw Failure() }
                parser.index += 1
                members.set(key, try parser.value())
                parser.skipWhitespace()
                guard parser.index < parser.bytes.count else { throw Failure() }
                if parser.bytes[parser.index] == UInt8(ascii: ",") { parser.index += 1; continue }
                guard parser.bytes[parser.index] == UInt8(ascii: "}") else { throw Failure() }
                parser.index += 1
                return .object(members)
            }
        }
    }

    private mutating func array() throws(Failure) -> JSON {
        try nested { (parser: inout JSONParser) throws(Failure) -> JSON in
            parser.index += 1
            var items: [JSON] = []
            parser.skipWhitespace()
            if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "]") {
                parser.index += 1
                return .array(items)
            }
            while true {
                items.append(try parser.value())
                parser.skipWhitespace()
                guard parser.index < parser.bytes.count else { throw Failure() }
                if parser.bytes[parser.index] == UInt8(ascii: ",") { parser.index += 1; continue }
                guard parser.bytes[parser.index] == UInt8(ascii: "]") else { throw Failure() }
                parser.index += 1
                return .array(items)
            }
        }
    }

    /// A string's value, or nil when its bytes are not valid UTF-8 (the value is read to its
    /// end all the same, so the rest of the document can be read and the field named).
    private mutating func string() throws(Failure) -> String? {
        index += 1  // the opening quote
        var scalars = String.UnicodeScalarView()
        var valid = true
        var start = index
        // Escapes split the raw bytes into runs; a backslash is ASCII, so it never falls
        // inside a multi-byte sequence and each run is valid UTF-8 on its own or not at all.
        // Decoded from contiguous memory: an array slice takes a slow, generic path.
        func run(_ range: Range<Int>) -> String {
            let decoded = bytes.withUnsafeBufferPointer { buffer -> String? in
                let run = UnsafeBufferPointer(rebasing: buffer[range])
                // ASCII, nearly every string of a spec, cannot be invalid: the fast decoder
                // takes it. `String(validating:)` is a slow generic path (a tenth of a render).
                if run.allSatisfy({ $0 < 0x80 }) { return String(decoding: run, as: UTF8.self) }
                return String(validating: run, as: UTF8.self)
            }
            guard let decoded else {
                valid = false
                return ""
            }
            return decoded
        }
        while true {
            guard index < bytes.count else { throw Failure() }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let tail = run(start..<index)
                index += 1
                guard valid else { return nil }
                if scalars.isEmpty { return tail }
                scalars.append(contentsOf: tail.unicodeScalars)
                return String(scalars)
            }
            guard byte >= 0x20 else { throw Failure() }  // raw control characters are not JSON
            guard byte == UInt8(ascii: "\\") else { index += 1; continue }
            scalars.append(contentsOf: run(start..<index).unicodeScalars)
            index += 1
            guard index < bytes.count else { throw Failure() }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code) {
                    // A surrogate pair: the low half must follow.
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw Failure() }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw Failure() }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw Failure() }
                scalars.append(scalar)
            default: throw Failure()
            }
            start = index
        }
    }

    /// The bytes as a string, decoded from contiguous memory (an array slice takes a slow,
    /// generic path).
    private func text(_ range: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Failure() }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            guard let digit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? UInt32(byte - 48)
                : (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) ? UInt32(byte - 87)
                : (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte) ? UInt32(byte - 55) : nil
            else { throw Failure() }
            value = value << 4 | digit
        }
        index += 4
        return value
    }

    /// A number, whole numbers exactly: a Double holds integers only up to 2^53, and
    /// 9007199254740993 must not become …992.
    private mutating func number() throws(Failure) -> JSON {
        let start = index
        let zero = UInt8(ascii: "0")
        func digits() -> Range<Int> {
            let begin = index
            while index < bytes.count, (zero...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return begin..<index
        }
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let integer = digits()
        guard !integer.isEmpty else { throw Failure() }
        if bytes[integer.lowerBound] == zero, integer.count > 1 { throw Failure() }  // no leading zeros
        var fraction = index..<index
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            fraction = digits()
            guard !fraction.isEmpty else { throw Failure() }
        }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let exponentDigits = digits()
            guard !exponentDigits.isEmpty else { throw Failure() }
            // Saturated: an exponent past a million says all there is to say.
            for position in exponentDigits { exponent = min(exponent * 10 + Int(bytes[position] - zero), 1_000_000) }
            if exponentNegative { exponent = -exponent }
        }
        // The plain whole numbers of a spec: up to 18 digits always fit in 64 bits.
        if fraction.isEmpty, exponent == 0, integer.count <= 18 {
            var value = 0
            for position in integer { value = value &* 10 &+ Int(bytes[position] - zero) }
            return .integer(negative ? -value : value)
        }
        // Otherwise the significant digits and the power of ten they are scaled by, exactly.
        var significant = Array(bytes[integer]) + Array(bytes[fraction])
        var scale = exponent - fraction.count
        while let first = significant.first, first == zero, significant.count > 1 { significant.removeFirst() }
        if significant == [zero] { return .integer(0) }
        while let last = significant.last, last == zero { significant.removeLast(); scale += 1 }
        if scale < 0 {
            guard let value = Double(text(start..<index)) else { throw Failure() }
            return .number(value)
        }
        let large = JSON.largeInteger(negative: negative, text: text(start..<index))
        guard significant.count + scale <= 20 else { return large }
        var magnitude: UInt64 = 0
        for digit in significant + Array(repeating: zero, count: scale) {
            let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflowAgain) = times10.addingReportingOverflow(UInt64(digit - zero))
            guard !overflow, !overflowAgain else { return large }
            magnitude = sum
        }
        if negative {
            guard magnitude <= UInt64(Int.max) + 1 else { return large }
            return .integer(magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude))
        }
        guard magnitude <= UInt64(Int.max) else { return large }
        return .integer(Int(magnitude))
    }
}
