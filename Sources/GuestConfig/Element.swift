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
        var output = ""
        write(to: &output, depth: 0)
        return output
    }

    private func write(to output: inout String, depth: Int) {
        let indent = String(repeating: "  ", count: depth)
        output += indent + "<" + name
        for (key, value) in attributes {
            output += " " + key + "='" + Self.escape(value, attribute: true) + "'"
        }
        if children.isEmpty, text == nil {
            output += "/>\n"
            return
        }
        output += ">"
        if let text { output += Self.escape(text, attribute: false) }
        if !children.isEmpty {
            output += "\n"
            for child in children { child.write(to: &output, depth: depth + 1) }
            output += indent
        }
        output += "</" + name + ">\n"
    }

    /// Escapes markup characters. Characters XML 1.0 cannot carry at all (C0 controls other
    /// than tab, newline and return, and U+FFFE/U+FFFF) become U+FFFD, so no input can change
    /// the document's structure or make it unparsable.
    static func escape(_ value: String, attribute: Bool) -> String {
        var result = ""
        result.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "'" where attribute: result += "&apos;"
            case "\"" where attribute: result += "&quot;"
            case "\t" where attribute: result += "&#9;"
            case "\n" where attribute: result += "&#10;"
            case "\r": result += "&#13;"
            case "\t", "\n": result.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                result += "\u{FFFD}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
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
