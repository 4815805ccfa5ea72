import FoundationEssentials

/// `POST /v1/domains/{ref}/snapshots`: `{"name", "description", "memory", "disk_only",
/// "quiesce"}`. An internal snapshot of every qcow2 disk; with `memory` (the default for a
/// running guest, and what QEMU's internal snapshots of a running guest always hold), its RAM
/// too. With `disk_only`, external: each disk gets a new qcow2 overlay next to it, and
/// `quiesce` asks the guest agent to freeze the file systems first.
public struct SnapshotCreation: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// Nil: whatever the domain's state gives (RAM when it runs).
    public var memory: Bool?
    public var diskOnly: Bool
    public var quiesce: Bool

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> SnapshotCreation {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let name = reader.string("name")
        let description = reader.string("description")
        let memory = reader.bool("memory")
        let diskOnly = reader.bool("disk_only") ?? false
        let quiesce = reader.bool("quiesce") ?? false
        reader.finish()
        if diskOnly, memory == true { errors.add("/memory", "a disk_only snapshot holds no memory") }
        if quiesce, !diskOnly { errors.add("/quiesce", "only a disk_only snapshot can be quiesced") }
        if !reader.has("name") { errors.add("/name", "is required") }
        // A snapshot's name is also a path segment of its URL and a name in QEMU's image.
        if let name, let refusal = StorageName.refusal(of: name) { errors.add("/name", refusal) }
        guard errors.errors.isEmpty, let name else { throw GuestSpecError(errors.errors) }
        return SnapshotCreation(name: name, description: description, memory: diskOnly ? false : memory,
                                diskOnly: diskOnly, quiesce: quiesce)
    }

    /// A disk_only snapshot's definition: each of `disks` (target and path) gets an external
    /// qcow2 overlay at the path given.
    public func externalElement(overlays: [(target: String, path: String)]) -> Element {
        Element("domainsnapshot") {
            Element("name", text: name)
            description.map { Element("description", text: $0) }
            Element("disks") {
                for overlay in overlays {
                    Element("disk", [("name", overlay.target), ("snapshot", "external")]) {
                        Element("driver", [("type", "qcow2")])
                        Element("source", [("file", overlay.path)])
                    }
                }
            }
        }
    }

    /// The snapshot's definition (libvirt's `<domainsnapshot>`); libvirt snapshots every disk
    /// the usual way (internal for qcow2), which the caller has checked they all allow.
    public var element: Element {
        Element("domainsnapshot") {
            Element("name", text: name)
            description.map { Element("description", text: $0) }
        }
    }
}
