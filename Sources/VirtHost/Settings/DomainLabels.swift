import GuestConfig
import Libvirt

/// A domain's labels: a string map kept in its `<metadata>` as one element of the service's
/// own namespace, `<virthost:labels><label key="…">value</label>…</virthost:labels>`, so it
/// survives restarts of the service and of libvirtd, and other applications' metadata is
/// left alone.
enum DomainLabels {
    static let namespace = GuestXML.labelsNamespace
    static let metadata = DomainMetadataKind.element(namespace: namespace, prefix: "virthost")

    /// The element to hand to `virDomainSetMetadata`; nil for no labels (the element goes).
    static func xml(_ labels: [String: String]) -> String? {
        guard !labels.isEmpty else { return nil }
        let children = labels.sorted { $0.key < $1.key }.map { key, value in
            XMLTree.Element(name: "label", attributes: [("key", key)], childElements: [], ownText: value)
        }
        return XMLTree.Element(name: "labels", attributes: [], childElements: children, ownText: "").xmlString
    }

    /// The labels of a `<metadata>` element: those of its child in the service's namespace,
    /// whatever prefix it was written with.
    static func labels(inMetadata metadata: XMLTree.Element?) -> [String: String] {
        let element = metadata?.childElements.first { child in
            child.attributes.contains { $0.name.hasPrefix("xmlns") && $0.value == namespace }
        }
        var labels: [String: String] = [:]
        for label in element?.childElements ?? [] where label.name.hasSuffix("label") {
            if let key = label.attribute("key") { labels[key] = label.ownText }
        }
        return labels
    }

    /// The labels of the element `virDomainGetMetadata` gives for the service's namespace (nil:
    /// the domain has none).
    static func labels(inElement xml: String?) throws(HostError) -> [String: String] {
        guard let xml else { return [:] }
        let element: XMLTree.Element
        do { element = try XMLTree(element: xml).root } catch {
            throw .unreadable("the labels' metadata does not parse: \(error)")
        }
        var labels: [String: String] = [:]
        for label in element.childElements where label.name.hasSuffix("label") {
            if let key = label.attribute("key") { labels[key] = label.ownText }
        }
        return labels
    }

    /// A domain's labels, read with one `virDomainGetMetadata` call rather than its whole XML.
    static func labels(of domain: Domain) throws -> [String: String] {
        try labels(inElement: try domain.metadata(metadata))
    }
}
