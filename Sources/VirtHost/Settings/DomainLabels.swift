import Libvirt

/// A domain's labels: a string map kept in its `<metadata>` as one element of the service's
/// own namespace, `<virthost:labels><label key="…">value</label>…</virthost:labels>`, so it
/// survives restarts of the service and of libvirtd, and other applications' metadata is
/// left alone.
enum DomainLabels {
    static let namespace = "https://virthost.dev/xmlns/labels/1"
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
}
