import CLibXML2
import Foundation

/// An XML document as libxml2's strict parser reads it: no recovery, no network, no DTD
/// loading. Foundation's `XMLDocument` parses in recovery mode (it accepts `<a><b></a>`), so it
/// cannot tell a well-formed document from a broken one.
public struct ParsedElement: Sendable, CustomStringConvertible {
    /// The qualified name (`prefix:local` when the element has a namespace prefix).
    public var name: String
    /// Namespace declarations (as `xmlns:prefix`) and attributes, sorted by name: XML gives
    /// attribute order no meaning.
    public var attributes: [Attribute]
    /// The concatenated character data directly inside this element.
    public var text: String
    public var children: [ParsedElement]
    /// Nodes no renderer writes (comments, processing instructions, entity references),
    /// by libxml2's node type.
    public var otherNodes: [Int]

    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var value: String

        /// Byte for byte: Swift's `==` on strings is canonical equivalence, which would let a
        /// change of Unicode normalisation pass.
        public static func == (lhs: Attribute, rhs: Attribute) -> Bool {
            lhs.name.utf8.elementsEqual(rhs.name.utf8) && lhs.value.utf8.elementsEqual(rhs.value.utf8)
        }
    }

    public var description: String { "<\(name) \(attributes.map { "\($0.name)=\($0.value.debugDescription)" })>" }

    public func attribute(_ name: String) -> String? { attributes.first { $0.name.utf8.elementsEqual(name.utf8) }?.value }
}

public enum StrictXML {
    public struct NotWellFormed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `xml` or says why it is not a well-formed document with one root element.
    public static func parse(_ xml: String) throws(NotWellFormed) -> ParsedElement {
        xmlInitParser()
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        let bytes = Array(xml.utf8)
        let document = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                xmlReadMemory(chars.baseAddress, Int32(chars.count), "rendered.xml", "UTF-8", options)
            }
        }
        guard let document else {
            let message = xmlGetLastError().flatMap { $0.pointee.message.map { String(cString: $0) } }
            throw NotWellFormed(description: "not well-formed: \(message ?? "unknown error")"
                .trimmingCharacters(in: .newlines))
        }
        defer { xmlFreeDoc(document) }
        var topLevel: [xmlNodePtr] = []
        var node = document.pointee.children
        while let current = node {
            topLevel.append(current)
            node = current.pointee.next
        }
        guard topLevel.count == 1, let root = topLevel.first, root.pointee.type == XML_ELEMENT_NODE else {
            throw NotWellFormed(description: "the document must be one root element and nothing else, got \(topLevel.count) top-level nodes")
        }
        return element(root)
    }

    private static func string(_ text: UnsafePointer<xmlChar>?) -> String {
        text.map { String(cString: $0) } ?? ""
    }

    private static func qualified(_ name: UnsafePointer<xmlChar>?, _ namespace: xmlNsPtr?) -> String {
        if let prefix = namespace?.pointee.prefix { return string(prefix) + ":" + string(name) }
        return string(name)
    }

    private static func element(_ node: xmlNodePtr) -> ParsedElement {
        var attributes: [ParsedElement.Attribute] = []
        var declaration = node.pointee.nsDef
        while let current = declaration {
            let name = current.pointee.prefix.map { "xmlns:" + string($0) } ?? "xmlns"
            attributes.append(.init(name: name, value: string(current.pointee.href)))
            declaration = current.pointee.next
        }
        var property = node.pointee.properties
        while let current = property {
            var value = ""
            var part = current.pointee.children
            while let text = part {
                value += string(text.pointee.content)
                part = text.pointee.next
            }
            attributes.append(.init(name: qualified(current.pointee.name, current.pointee.ns), value: value))
            property = current.pointee.next
        }
        attributes.sort { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }

        var result = ParsedElement(name: qualified(node.pointee.name, node.pointee.ns), attributes: attributes,
                                   text: "", children: [], otherNodes: [])
        var child = node.pointee.children
        while let current = child {
            switch current.pointee.type {
            case XML_ELEMENT_NODE: result.children.append(element(current))
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE: result.text += string(current.pointee.content)
            default: result.otherNodes.append(Int(current.pointee.type.rawValue))
            }
            child = current.pointee.next
        }
        return result
    }
}
