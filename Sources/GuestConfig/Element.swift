/// An XML element tree, serialised with escaping. Attribute and child order are kept as
/// built, so the same tree always gives the same bytes.
public struct Element: Sendable, Hashable {
    public var name: String
    public var attributes: [(String, String)]
    public var children: [Element]
    public var text: String?

    public init(_ name: String, _ attributes: [(String, String?)] = [], text: String? = nil,
                children: [Element] = []) {
        self.name = name
        // A nil value leaves the attribute out, so optional fields read naturally.
        self.attributes = attributes.compactMap { key, value in value.map { (key, $0) } }
        self.text = text
        self.children = children
    }

    public init(_ name: String, _ attributes: [(String, String?)] = [], @ElementBuilder _ children: () -> [Element]) {
        self.init(name, attributes, children: children())
    }

    public static func == (lhs: Element, rhs: Element) -> Bool {
        lhs.name == rhs.name && lhs.text == rhs.text && lhs.children == rhs.children
            && lhs.attributes.map { [$0.0, $0.1] } == rhs.attributes.map { [$0.0, $0.1] }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(text)
        hasher.combine(children)
        for (key, value) in attributes {
            hasher.combine(key)
            hasher.combine(value)
        }
    }

    /// The document, indented by two spaces as libvirt writes it, ending in a newline.
    public func serialized() -> String {
        var output: [UInt8] = []
        output.reserveCapacity(4096)
        write(to: &output, depth: 0)
        return String(decoding: output, as: UTF8.self)
    }

    private func write(to output: inout [UInt8], depth: Int) {
        for _ in 0..<depth { output.append(0x20); output.append(0x20) }
        output.append(UInt8(ascii: "<"))
        output.append(contentsOf: name.utf8)
        for (key, value) in attributes {
            output.append(0x20)
            output.append(contentsOf: key.utf8)
            output.append(contentsOf: "='".utf8)
            Self.escape(value, attribute: true, into: &output)
            output.append(UInt8(ascii: "'"))
        }
        if children.isEmpty, text == nil {
            output.append(contentsOf: "/>\n".utf8)
            return
        }
        output.append(UInt8(ascii: ">"))
        if let text { Self.escape(text, attribute: false, into: &output) }
        if !children.isEmpty {
            output.append(0x0A)
            for child in children { child.write(to: &output, depth: depth + 1) }
            for _ in 0..<depth { output.append(0x20); output.append(0x20) }
        }
        output.append(contentsOf: "</".utf8)
        output.append(contentsOf: name.utf8)
        output.append(contentsOf: ">\n".utf8)
    }

    static func escape(_ value: String, attribute: Bool) -> String {
        var output: [UInt8] = []
        escape(value, attribute: attribute, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Escapes markup characters. Characters XML 1.0 cannot carry at all (C0 controls other
    /// than tab, newline and return, and U+FFFE/U+FFFF) become U+FFFD, so no input can change
    /// the document's structure or make it unparsable.
    static func escape(_ value: String, attribute: Bool, into output: inout [UInt8]) {
        let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]
        var utf8 = Array(value.utf8)[...]
        while let byte = utf8.first {
            utf8 = utf8.dropFirst()
            switch byte {
            case UInt8(ascii: "&"): output.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): output.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): output.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "'") where attribute: output.append(contentsOf: "&apos;".utf8)
            case UInt8(ascii: "\"") where attribute: output.append(contentsOf: "&quot;".utf8)
            case 0x09 where attribute: output.append(contentsOf: "&#9;".utf8)
            case 0x0A where attribute: output.append(contentsOf: "&#10;".utf8)
            case 0x0D: output.append(contentsOf: "&#13;".utf8)
            case 0x09, 0x0A: output.append(byte)
            case 0..<0x20: output.append(contentsOf: replacement)
            case 0xEF where utf8.count >= 2 && utf8[utf8.startIndex] == 0xBF
                && (utf8[utf8.startIndex + 1] == 0xBE || utf8[utf8.startIndex + 1] == 0xBF):
                // U+FFFE and U+FFFF.
                output.append(contentsOf: replacement)
                utf8 = utf8.dropFirst(2)
            default: output.append(byte)
            }
        }
    }
}

/// Lets builders list children with `if` and `for`.
@resultBuilder
public enum ElementBuilder {
    public static func buildBlock(_ parts: [Element]...) -> [Element] { parts.flatMap { $0 } }
    public static func buildExpression(_ element: Element) -> [Element] { [element] }
    public static func buildExpression(_ elements: [Element]) -> [Element] { elements }
    public static func buildExpression(_ element: Element?) -> [Element] { element.map { [$0] } ?? [] }
    public static func buildOptional(_ part: [Element]?) -> [Element] { part ?? [] }
    public static func buildEither(first part: [Element]) -> [Element] { part }
    public static func buildEither(second part: [Element]) -> [Element] { part }
    public static func buildArray(_ parts: [[Element]]) -> [Element] { parts.flatMap { $0 } }
}

extension Element {
    /// `<name>text</name>`.
    static func text(_ name: String, _ value: String, _ attributes: [(String, String?)] = []) -> Element {
        Element(name, attributes, text: value)
    }
}
