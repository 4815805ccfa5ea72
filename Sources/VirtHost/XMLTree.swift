import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Reading libvirt's XML documents as a tree (never with patterns on the text).
struct XMLTree {
    let root: XMLElement

    struct ParseError: Error, Sendable, CustomStringConvertible {
        let description: String
    }

    /// Parses `xml`, whose root element must be `rootName`.
    init(_ xml: String, root rootName: String) throws {
        let document: XMLDocument
        do {
            document = try XMLDocument(xmlString: xml, options: [])
        } catch {
            throw ParseError(description: "\(rootName) XML does not parse: \(error)")
        }
        guard let root = document.rootElement(), root.name == rootName else {
            throw ParseError(description: "XML root is not <\(rootName)>")
        }
        self.root = root
    }
}

extension XMLElement {
    /// Child elements named `name`, in document order.
    func children(_ name: String) -> [XMLElement] { elements(forName: name) }

    /// The first child element named `name`.
    func child(_ name: String) -> XMLElement? { elements(forName: name).first }

    /// Follows a path of child names, e.g. `element.at("host", "cpu")`.
    func at(_ path: String...) -> XMLElement? {
        var element: XMLElement? = self
        for name in path { element = element?.child(name) }
        return element
    }

    /// Child elements of any name.
    var childElements: [XMLElement] { (children ?? []).compactMap { $0 as? XMLElement } }

    func attribute(_ name: String) -> String? { attribute(forName: name)?.stringValue }

    /// Trimmed text content; nil when empty.
    var text: String? {
        guard let value = stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// The trimmed text of the first child named `name`.
    func childText(_ name: String) -> String? { child(name)?.text }
}
