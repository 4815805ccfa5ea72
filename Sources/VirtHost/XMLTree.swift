import GuestConfig

/// Reading libvirt's XML documents as a tree (never with patterns on the text).
///
/// A small XML 1.0 reader of its own: elements, attributes, text, the predefined and numeric
/// character references, CDATA, and comments, processing instructions and a DOCTYPE skipped.
/// Foundation's `XMLDocument` on Linux leaked its libxml2 tree on every parse (about 23 KB per
/// domain document, so the service grew by hundreds of megabytes under load); this one owns
/// nothing outside Swift's memory.
struct XMLTree {
    let root: Element

    struct ParseError: Error, Sendable, CustomStringConvertible {
        let description: String
    }

    /// One element: its name, attributes in document order, child elements, and its text
    /// (the character data directly inside it, concatenated).
    final class Element: Sendable {
        let name: String
        let attributes: [(name: String, value: String)]
        let childElements: [Element]
        /// Character data directly inside the element (not its children's).
        let ownText: String

        init(name: String, attributes: [(name: String, value: String)], childElements: [Element], ownText: String) {
            self.name = name
            self.attributes = attributes
            self.childElements = childElements
            self.ownText = ownText
        }
    }

    /// Parses `xml`, whose root element must be `rootName`.
    init(_ xml: String, root rootName: String) throws {
        var reader = XMLReader(Array(xml.utf8))
        let root: Element
        do {
            root = try reader.document()
        } catch {
            throw ParseError(description: "\(rootName) XML does not parse: \(error.description)")
        }
        guard root.name == rootName else { throw ParseError(description: "XML root is not <\(rootName)>") }
        self.root = root
    }

    /// Parses `xml`, a lone element of any name (as `virDomainGetMetadata` gives one, with the
    /// prefix it was stored under).
    init(element xml: String) throws {
        var reader = XMLReader(Array(xml.utf8))
        do {
            root = try reader.document()
        } catch {
            throw ParseError(description: "element XML does not parse: \(error.description)")
        }
    }
}

extension XMLTree.Element {
    /// Child elements named `name`, in document order.
    func children(_ name: String) -> [XMLTree.Element] { childElements.filter { $0.name == name } }

    /// The first child element named `name`.
    func child(_ name: String) -> XMLTree.Element? { childElements.first { $0.name == name } }

    /// Follows a path of child names, e.g. `element.at("host", "cpu")`.
    func at(_ path: String...) -> XMLTree.Element? {
        var element: XMLTree.Element? = self
        for name in path { element = element?.child(name) }
        return element
    }

    func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }

    /// The text of the element and its descendants, as XPath's `string()` gives it.
    var stringValue: String { ownText + childElements.map(\.stringValue).joined() }

    /// Trimmed text content; nil when empty.
    var text: String? {
        let value = stringValue.trimmingWhitespace()
        return value.isEmpty ? nil : value
    }

    /// The trimmed text of the first child named `name`.
    func childText(_ name: String) -> String? { child(name)?.text }

    /// The element as XML again, escaped (to hand one device back to libvirt). Whitespace
    /// between child elements is dropped; it carries nothing in libvirt's documents.
    var xmlString: String {
        var output = "<" + name
        for (attribute, value) in attributes {
            output += " \(attribute)=\"\(Self.escape(value, quotes: true))\""
        }
        let keptText = childElements.isEmpty || !ownText.trimmingWhitespace().isEmpty ? ownText : ""
        if childElements.isEmpty && keptText.isEmpty { return output + "/>" }
        output += ">" + Self.escape(keptText, quotes: false)
        for child in childElements { output += child.xmlString }
        return output + "</\(name)>"
    }

    private static func escape(_ text: String, quotes: Bool) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"" where quotes: output += "&quot;"
            default: output.append(character)
            }
        }
        return output
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

/// The byte-level reader behind ``XMLTree``.
private struct XMLReader {
    typealias Failure = XMLTree.ParseError

    private let bytes: [UInt8]
    private var index = 0
    /// libvirt's documents nest a dozen levels; this bounds recursion on anything else.
    private static let maximumDepth = 256

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(Failure) -> XMLTree.Element {
        skipMisc()
        guard peek(UInt8(ascii: "<")) else { throw fail("no root element") }
        let root = try element(depth: 0)
        skipMisc()
        guard index == bytes.count else { throw fail("content after the root element") }
        return root
    }

    private func fail(_ reason: String) -> Failure { Failure(description: "\(reason) at byte \(index)") }

    private func peek(_ byte: UInt8) -> Bool { index < bytes.count && bytes[index] == byte }

    private func starts(with literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return literal.withUTF8Buffer { literal in (0..<count).allSatisfy { bytes[index + $0] == literal[$0] } }
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }

    private mutating func skipSpace() { while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 } }

    /// Skips up to and past `terminator`; at the end when it is missing.
    private mutating func skip(past terminator: StaticString) {
        while index < bytes.count, !starts(with: terminator) { index += 1 }
        index = min(bytes.count, index + terminator.utf8CodeUnitCount)
    }

    /// Whitespace, comments, processing instructions (the XML declaration) and a DOCTYPE.
    private mutating func skipMisc() {
        while true {
            skipSpace()
            if starts(with: "<!--") { skip(past: "-->") }
            else if starts(with: "<?") { skip(past: "?>") }
            else if starts(with: "<!DOCTYPE") { skip(past: ">") }
            else { return }
        }
    }

    private mutating func name() throws(Failure) -> String {
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if Self.isSpace(byte) || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=") {
                break
            }
            index += 1
        }
        guard index > start else { throw fail("a name was expected") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func element(depth: Int) throws(Failure) -> XMLTree.Element {
        guard depth < Self.maximumDepth else { throw fail("elements nest deeper than \(Self.maximumDepth)") }
        index += 1  // <
        let elementName = try name()
        var attributes: [(name: String, value: String)] = []
        while true {
            skipSpace()
            guard index < bytes.count else { throw fail("<\(elementName)> is not closed") }
            if starts(with: "/>") {
                index += 2
                return XMLTree.Element(name: elementName, attributes: attributes, childElements: [], ownText: "")
            }
            if peek(UInt8(ascii: ">")) {
                index += 1
                break
            }
            let attributeName = try name()
            skipSpace()
            guard peek(UInt8(ascii: "=")) else { throw fail("attribute \(attributeName) has no value") }
            index += 1
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                throw fail("attribute \(attributeName) is not quoted")
            }
            let quote = bytes[index]
            index += 1
            attributes.append((attributeName, try characters(until: quote)))
            index += 1  // closing quote
        }

        var children: [XMLTree.Element] = []
        var text = ""
        while true {
            guard index < bytes.count else { throw fail("<\(elementName)> is not closed") }
            if starts(with: "</") {
                index += 2
                let closing = try name()
                guard closing == elementName else { throw fail("</\(closing)> closes <\(elementName)>") }
                skipSpace()
                guard peek(UInt8(ascii: ">")) else { throw fail("</\(closing)> is not closed") }
                index += 1
                return XMLTree.Element(name: elementName, attributes: attributes, childElements: children, ownText: text)
            }
            if starts(with: "<!--") { skip(past: "-->"); continue }
            if starts(with: "<?") { skip(past: "?>"); continue }
            if starts(with: "<![CDATA[") {
                index += 9
                let start = index
                while index < bytes.count, !starts(with: "]]>") { index += 1 }
                guard index < bytes.count else { throw fail("CDATA is not closed") }
                text += String(decoding: bytes[start..<index], as: UTF8.self)
                index += 3
                continue
            }
            if peek(UInt8(ascii: "<")) {
                children.append(try element(depth: depth + 1))
                continue
            }
            text += try characters(until: UInt8(ascii: "<"))
        }
    }

    /// Character data up to (not including) `terminator`, with references resolved.
    private mutating func characters(until terminator: UInt8) throws(Failure) -> String {
        var output: [UInt8] = []
        while index < bytes.count, bytes[index] != terminator {
            if bytes[index] == UInt8(ascii: "&") {
                output += try reference()
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        guard index < bytes.count else { throw fail("the document ends inside text or a value") }
        return String(decoding: output, as: UTF8.self)
    }

    /// `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&apos;`, `&#NN;` or `&#xHH;`, as UTF-8.
    private mutating func reference() throws(Failure) -> [UInt8] {
        let start = index
        guard let semicolon = bytes[index...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
            throw fail("an & that starts no reference")
        }
        let body = String(decoding: bytes[(start + 1)..<semicolon], as: UTF8.self)
        index = semicolon + 1
        switch body {
        case "lt": return [UInt8(ascii: "<")]
        case "gt": return [UInt8(ascii: ">")]
        case "amp": return [UInt8(ascii: "&")]
        case "quot": return [UInt8(ascii: "\"")]
        case "apos": return [UInt8(ascii: "'")]
        default:
            let scalar: Unicode.Scalar?
            if body.hasPrefix("#x") {
                scalar = UInt32(body.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
            } else if body.hasPrefix("#") {
                scalar = UInt32(body.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
            } else {
                scalar = nil
            }
            guard let scalar else {
                index = start
                throw fail("unknown reference &\(body);")
            }
            return Array(String(Character(scalar)).utf8)
        }
    }
}

extension XMLTree.Element {
    /// The element as a tree to change and hand back to libvirt (one device, say), with
    /// whitespace between child elements dropped as in ``xmlString``.
    var element: GuestConfig.Element {
        let keptText = childElements.isEmpty || !ownText.trimmingWhitespace().isEmpty ? ownText : ""
        return GuestConfig.Element(name, attributes.map { ($0.name, $0.value as String?) },
                                   text: keptText.isEmpty ? nil : keptText,
                                   children: childElements.map(\.element))
    }
}
