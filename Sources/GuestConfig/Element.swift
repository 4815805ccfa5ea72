/// An XML element tree, serialised with escaping. Attribute and child order are kept as
/// built, so the same tree always gives the same bytes.
public struct Element: Sendable, Hashable {
    public var name: String
    /// The attributes in order; a builder's nil value is left out.
    public var attributes: [(String, String)] {
        get { given.compactMap { key, value in value.map { (key, $0) } } }
        set { given = newValue.map { ($0.0, $0.1) } }
    }
    /// The attributes as the builder gave them, nil values and all: kept as they are, so
    /// making an element does not copy its attribute list.
    private var given: [(String, String?)]
    public var children: [Element]
    public var text: String?

    public init(_ name: String, _ attributes: [(String, String?)] = [], text: String? = nil,
                children: [Element] = []) {
        self.name = name
        // A nil value leaves the attribute out, so optional fields read naturally.
        self.given = attributes
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
        var output = XMLOutput(capacity: 4096)
        write(to: &output, depth: 0)
        return output.string()
    }

    // Elements, their attributes and texts are borrowed, never copied, while written.
    private func write(to output: inout XMLOutput, depth: Int) {
        output.indent(depth)
        output.append(UInt8(ascii: "<"))
        output.append(name)
        for index in given.indices {
            guard given[index].1 != nil else { continue }
            output.append(0x20)
            output.append(given[index].0)
            output.append("='")
            Self.escape(given[index].1!, attribute: true, into: &output)
            output.append(UInt8(ascii: "'"))
        }
        if children.isEmpty, text == nil {
            output.append("/>\n")
            return
        }
        output.append(UInt8(ascii: ">"))
        if text != nil { Self.escape(text!, attribute: false, into: &output) }
        if !children.isEmpty {
            output.append(0x0A)
            for index in children.indices { children[index].write(to: &output, depth: depth + 1) }
            output.indent(depth)
        }
        output.append("</")
        output.append(name)
        output.append(">\n")
    }

    static func escape(_ value: String, attribute: Bool) -> String {
        var output = XMLOutput(capacity: value.utf8.count)
        escape(value, attribute: attribute, into: &output)
        return output.string()
    }

    /// Escapes markup characters. Characters XML 1.0 cannot carry at all (C0 controls other
    /// than tab, newline and return, and U+FFFE/U+FFFF) become U+FFFD, so no input can change
    /// the document's structure or make it unparsable. Runs of bytes that need nothing are
    /// copied whole: most values are plain.
    static func escape(_ value: borrowing String, attribute: Bool, into output: inout XMLOutput) {
        output.appendUTF8(of: value) { utf8, output in
            var plainStart = 0
            var index = 0
            while index < utf8.count {
                let byte = utf8[index]
                // Letters, digits and most punctuation need nothing: skip them quickly.
                if (byte > UInt8(ascii: ">") && byte != 0xEF) || (byte >= UInt8(ascii: "(") && byte <= UInt8(ascii: ";"))
                    || byte == 0x20 {
                    index += 1
                    continue
                }
                let replacement: StaticString
                var length = 1
                switch byte {
                case UInt8(ascii: "&"): replacement = "&amp;"
                case UInt8(ascii: "<"): replacement = "&lt;"
                case UInt8(ascii: ">"): replacement = "&gt;"
                case UInt8(ascii: "'") where attribute: replacement = "&apos;"
                case UInt8(ascii: "\"") where attribute: replacement = "&quot;"
                case 0x09 where attribute: replacement = "&#9;"
                case 0x0A where attribute: replacement = "&#10;"
                case 0x0D: replacement = "&#13;"
                case 0x09, 0x0A:
                    index += 1
                    continue
                case 0..<0x20: replacement = "\u{FFFD}"
                case 0xEF where index + 2 < utf8.count && utf8[index + 1] == 0xBF
                    && (utf8[index + 2] == 0xBE || utf8[index + 2] == 0xBF):
                    // U+FFFE and U+FFFF.
                    replacement = "\u{FFFD}"
                    length = 3
                default:
                    index += 1
                    continue
                }
                if index > plainStart { output.append(UnsafeBufferPointer(rebasing: utf8[plainStart..<index])) }
                output.append(replacement)
                index += length
                plainStart = index
            }
            if utf8.count > plainStart { output.append(UnsafeBufferPointer(rebasing: utf8[plainStart...])) }
        }
    }
}

/// Lets builders list children with `if` and `for`. A block's children are appended to one
/// array held by a ``ElementBuilder/Children`` object: the builder passes each partial block
/// on by value, and an array passed on that way is shared, so every append would copy it
/// whole.
@resultBuilder
public enum ElementBuilder {
    /// A block's children so far.
    public final class Children {
        var elements: [Element]
        init(_ elements: [Element]) { self.elements = elements }
    }

    public static func buildExpression(_ element: Element) -> Element { element }
    public static func buildExpression(_ elements: [Element]) -> Children { Children(elements) }
    public static func buildExpression(_ element: Element?) -> Children { Children(element.map { [$0] } ?? []) }
    public static func buildPartialBlock(first: Element) -> Children { Children([first]) }
    public static func buildPartialBlock(first: Children) -> Children { first }
    public static func buildPartialBlock(accumulated: Children, next: Element) -> Children {
        accumulated.elements.append(next)
        return accumulated
    }
    public static func buildPartialBlock(accumulated: Children, next: Children) -> Children {
        accumulated.elements.append(contentsOf: next.elements)
        return accumulated
    }
    public static func buildBlock() -> Children { Children([]) }
    public static func buildOptional(_ part: Children?) -> Children { part ?? Children([]) }
    public static func buildEither(first part: Children) -> Children { part }
    public static func buildEither(second part: Children) -> Children { part }
    public static func buildArray(_ parts: [Children]) -> Children { Children(parts.flatMap(\.elements)) }
    public static func buildFinalResult(_ children: Children) -> [Element] { children.elements }
}

/// The bytes of a document as it is written: one growing buffer written through a pointer,
/// without an array's checks on each byte.
struct XMLOutput: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    private mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        let grown = max(capacity * 2, count + extra)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        moved.update(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = grown
    }

    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    mutating func append(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Text written as it is: element and attribute names, the builders' own.
    mutating func append(_ text: borrowing String) {
        appendUTF8(of: text) { utf8, output in output.append(utf8) }
    }

    /// Runs `body` with the UTF-8 of `text` (contiguous for every native string; a bridged
    /// one is copied first).
    mutating func appendUTF8(of text: borrowing String,
                             _ body: (UnsafeBufferPointer<UInt8>, inout XMLOutput) -> Void) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { body($0, &self) }
        if done == nil {
            var copy = copy text
            copy.withUTF8 { body($0, &self) }
        }
    }

    mutating func indent(_ depth: Int) {
        reserve(depth * 2)
        (base + count).initialize(repeating: 0x20, count: depth * 2)
        count += depth * 2
    }

    consuming func string() -> String {
        String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }
}

extension Element {
    /// `<name>text</name>`.
    static func text(_ name: String, _ value: String, _ attributes: [(String, String?)] = []) -> Element {
        Element(name, attributes, text: value)
    }
}
