import FoundationEssentials

/// `POST /v1/domains/{ref}/snapshots`: `{"name", "description", "memory"}`. An internal
/// snapshot of every qcow2 disk; with `memory` (the default for a running guest, and what
/// QEMU's internal snapshots of a running guest always hold), its RAM too.
public struct SnapshotCreation: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// Nil: whatever the domain's state gives (RAM when it runs).
    public var memory: Bool?

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> SnapshotCreation {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let name = reader.string("name")
        let description = reader.string("description")
        let memory = reader.bool("memory")
        reader.finish()
        if !reader.has("name") { errors.add("/name", "is required") }
        // A snapshot's name is also a path segment of its URL and a name in QEMU's image.
        if let name, let refusal = StorageName.refusal(of: name) { errors.add("/name", refusal) }
        guard errors.errors.isEmpty, let name else { throw GuestSpecError(errors.errors) }
        return SnapshotCreation(name: name, description: description, memory: memory)
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
