import FoundationEssentials

/// `PUT /v1/domains/{ref}/disks/{target}/media`: `{"source": path | {"pool", "volume"}}`, the
/// medium a CD-ROM drive takes. The path rules of a spec's disks apply to it.
public struct DiskMedia: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        case path(String)
        case volume(VolumeReference)
    }

    public var source: Source

    public init(source: Source) { self.source = source }

    public static func read(json data: some DataProtocol, policy: ValidationPolicy?) throws(GuestSpecError) -> DiskMedia {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        var source: Source?
        switch reader.value("source") {
        case .string(let path)?:
            reader.checkCharacters(path, at: "/source")
            if let refusal = policy?.refusal(of: path) ?? GuestDefinition.absolutePathRefusal(path) {
                errors.add("/source", refusal)
            }
            source = .path(path)
        case .object?:
            if let object = reader.object("source") {
                let volume = VolumeReference(reader: object)
                // A member missing or of the wrong type has said so already.
                for (pointer, refusal) in volume.refusals(at: "/source")
                where !errors.errors.contains(where: { $0.pointer == pointer }) {
                    errors.add(pointer, refusal)
                }
                source = .volume(volume)
            }
        case .malformedString?:
            errors.add("/source", "must be valid UTF-8")
        case nil:
            errors.add("/source", "is required: a path or {pool, volume}")
        case let other?:
            errors.add("/source", "must be a path or {pool, volume}, got \(other.kind)")
        }
        reader.finish()
        guard errors.errors.isEmpty, let source else { throw GuestSpecError(errors.errors) }
        return DiskMedia(source: source)
    }

    /// `disk`, a CD-ROM's `<disk>` as libvirt gives it, with this medium in it: its source
    /// and its type change, everything else (target, bus, driver, address, alias) stays, so
    /// libvirt's update matches it to the drive and changes the medium only.
    public func inserted(into disk: Element) -> Element {
        var changed = Self.withoutMedium(disk)
        let element = switch source {
        case .path(let path): Element("source", [("file", path)])
        case .volume(let volume): Element("source", [("pool", volume.pool), ("volume", volume.volume)])
        }
        changed.setAttribute("type", { if case .volume = source { "volume" } else { "file" } }())
        // libvirt reads the source wherever it is; beside the driver is where it writes it.
        let position = changed.children.firstIndex { $0.name == "driver" }.map { $0 + 1 } ?? 0
        changed.children.insert(element, at: position)
        return changed
    }

    /// `disk` with its medium taken out: an empty drive (a `file` drive with no source).
    public static func ejected(from disk: Element) -> Element {
        var changed = withoutMedium(disk)
        changed.setAttribute("type", "file")
        return changed
    }

    /// The medium's elements go: its source, and the backing chain libvirt reports for it.
    private static func withoutMedium(_ disk: Element) -> Element {
        var changed = disk
        changed.children.removeAll { $0.name == "source" || $0.name == "backingStore" }
        return changed
    }
}

extension Element {
    /// Sets `name` to `value`, in place when the element has it, else at the end.
    mutating func setAttribute(_ name: String, _ value: String) {
        var list = attributes
        if let index = list.firstIndex(where: { $0.0 == name }) {
            list[index].1 = value
        } else {
            list.append((name, value))
        }
        attributes = list
    }
}
