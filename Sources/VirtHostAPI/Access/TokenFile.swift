import HTTPServer

/// The bearer tokens file: one token a line, `<name> <read|write> <sha256 hex of the token>`;
/// `#` starts a comment, blank lines are ignored. Only digests are stored, so the file gives
/// away no token.
public struct TokenFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let scope: Scope
        public let digest: [UInt8]

        public init(name: String, scope: Scope, digest: [UInt8]) {
            self.name = name
            self.scope = scope
            self.digest = digest
        }
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible, Equatable {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public init(parsing text: String) throws(ParseError) {
        var entries: [Entry] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 3 else {
                throw ParseError(line: number, reason: "expected `<name> <read|write> <sha256 hex>`, found \(fields.count) fields")
            }
            let name = String(fields[0])
            guard name.utf8.count <= 64, name.utf8.allSatisfy(Self.isNameByte) else {
                throw ParseError(line: number, reason: "a token name is 1 to 64 letters, digits, `.`, `_`, `-` or `@`")
            }
            guard let scope = Scope(rawValue: String(fields[1])) else {
                throw ParseError(line: number, reason: "scope must be read or write, got \(fields[1])")
            }
            guard let digest = Self.digest(hex: fields[2]) else {
                throw ParseError(line: number, reason: "the digest must be 64 hex digits (sha256 of the token)")
            }
            if entries.contains(where: { $0.name == name }) {
                throw ParseError(line: number, reason: "the name \(name) is used twice")
            }
            if entries.contains(where: { $0.digest == digest }) {
                throw ParseError(line: number, reason: "this digest is already given to another name")
            }
            entries.append(Entry(name: name, scope: scope, digest: digest))
        }
        self.entries = entries
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == 0x2E || byte == 0x5F || byte == 0x2D || byte == 0x40
    }

    private static func digest(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        case 0x41...0x46: digit - 0x41 + 10
        default: nil
        }
    }
}
