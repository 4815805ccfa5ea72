import CLibXML2
import Foundation

/// Reading libvirt's XML documents as a tree (never with patterns on the text), on libxml2.
///
/// Not on FoundationXML: its `XMLDocument` never frees a document it parsed (LeakSanitizer
/// found every one of them; 5,000 parses of a 600-byte document grew the process by 100 MiB),
/// and the service parses a domain's XML for each detail request and metrics sweep.
struct XMLTree {
    let root: Element

    struct ParseError: Error, Sendable, CustomStringConvertible {
        let description: String
    }

    /// Parses `xml`, whose root element must be `rootName`.
    init(_ xml: String, root rootName: String) throws {
        xmlInitParser()
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        let bytes = Array(xml.utf8)
        let parsed = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                xmlReadMemory(chars.baseAddress, Int32(chars.count), nil, "UTF-8", options)
            }
        }
        guard let parsed else {
            let message = xmlGetLastError().flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown error"
            throw ParseError(description: "\(rootName) XML does not parse: \(message.trimmingCharacters(in: .newlines))")
        }
        let document = Document(parsed)
        guard let node = xmlDocGetRootElement(parsed), Element(document, node).name == rootName else {
            throw ParseError(description: "XML root is not <\(rootName)>")
        }
        root = Element(document, node)
    }

    /// Owns the libxml2 document; every element holds it, so nodes never outlive it.
    final class Document {
        let pointer: xmlDocPtr
        init(_ pointer: xmlDocPtr) { self.pointer = pointer }
        deinit { xmlFreeDoc(pointer) }
    }

    /// One element of a parsed document.
    struct Element {
        let document: Document
        let node: xmlNodePtr

        init(_ document: Document, _ node: xmlNodePtr) {
            self.document = document
            self.node = node
        }

        /// The qualified name (`prefix:local` when the element has a namespace prefix).
        var name: String { Self.qualified(node.pointee.name, node.pointee.ns) }

        /// Child elements named `name`, in document order.
        func children(_ name: String) -> [Element] { childElements.filter { $0.name == name } }

        /// The first child element named `name`.
        func child(_ name: String) -> Element? { childElements.first { $0.name == name } }

        /// Follows a path of child names, e.g. `element.at("host", "cpu")`.
        func at(_ path: String...) -> Element? {
            var element: Element? = self
            for name in path { element = element?.child(name) }
            return element
        }

        /// Child elements of any name.
        var childElements: [Element] {
            var elements: [Element] = []
            var child = node.pointee.children
            while let current = child {
                if current.pointee.type == XML_ELEMENT_NODE { elements.append(Element(document, current)) }
                child = current.pointee.next
            }
            return elements
        }

        func attribute(_ name: String) -> String? {
            var property = node.pointee.properties
            while let current = property {
                if Self.qualified(current.pointee.name, current.pointee.ns) == name {
                    return Self.text(of: current.pointee.children)
                }
                property = current.pointee.next
            }
            return nil
        }

        /// All the text inside the element, its descendants' included.
        var stringValue: String { Self.text(of: node.pointee.children, descending: true) }

        /// Trimmed text content; nil when empty.
        var text: String? {
            let value = stringValue.trimmingCharacters(in: .whitespacesAndNewlines)
            return value.isEmpty ? nil : value
        }

        /// The trimmed text of the first child named `name`.
        func childText(_ name: String) -> String? { child(name)?.text }

        /// The element and everything in it as XML, e.g. a device to hand back to libvirt.
        var xmlString: String {
            guard let buffer = xmlBufferCreate() else { return "" }
            defer { xmlBufferFree(buffer) }
            xmlNodeDump(buffer, document.pointer, node, 0, 0)
            return xmlBufferContent(buffer).map { String(cString: $0) } ?? ""
        }

        private static func qualified(_ name: UnsafePointer<xmlChar>?, _ namespace: xmlNsPtr?) -> String {
            let local = name.map { String(cString: $0) } ?? ""
            guard let prefix = namespace?.pointee.prefix else { return local }
            return String(cString: prefix) + ":" + local
        }

        /// The text and CDATA nodes of a sibling list (and, when `descending`, of what they hold).
        private static func text(of first: xmlNodePtr?, descending: Bool = false) -> String {
            var result = ""
            var node = first
            while let current = node {
                switch current.pointee.type {
                case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                    if let content = current.pointee.content { result += String(cString: content) }
                case XML_ELEMENT_NODE where descending:
                    result += text(of: current.pointee.children, descending: true)
                default: break
                }
                node = current.pointee.next
            }
            return result
        }
    }
}
