import FoundationEssentials

/// A JSON merge patch (RFC 7396) of a domain's settings: `vcpus`, `memory_mb`, `autostart`,
/// `title`, `description` and `labels`. A member left out is left alone; `null` removes a title, a
/// description, one label, or (for `labels` itself) every label. The whole patch is read and
/// checked here, before anything is changed.
public struct DomainPatch: Sendable, Hashable {
    /// vCPUs online, within the domain's maximum (``GuestSpec/maxVCPUs``).
    public var vcpus: Int?
    /// Memory the balloon gives the domain, within its maximum (``GuestSpec/maxMemoryMB``).
    public var memoryMB: Int?
    public var autostart: Bool?
    /// `.some(nil)` removes the title.
    public var title: String??
    public var description: String??
    /// Per label key, its new value, or nil to remove it.
    public var labels: [String: String?] = [:]
    /// `"labels": null`: every label goes (before `labels` applies, which is then empty).
    public var removesAllLabels = false

    /// Labels a domain may have in all, after any patch (its metadata is not for bulk data).
    public static let maximumLabels = 64
    public static let maximumLabelValueLength = 256
    public static let maximumTitleLength = 256
    public static let maximumDescriptionLength = 64 * 1024

    public init() {}

    /// Whether the patch changes nothing.
    public var isEmpty: Bool {
        vcpus == nil && memoryMB == nil && autostart == nil && title == nil && description == nil && labels.isEmpty && !removesAllLabels
    }

    /// The labels after the patch, from those the domain has now.
    public func labels(applyingTo current: [String: String]) -> [String: String] {
        var result = removesAllLabels ? [:] : current
        for (key, value) in labels { result[key] = value }
        return result
    }

    /// A label key: a letter or digit, then letters, digits, `.`, `_`, `-` or `/`; at most 63
    /// characters, so it fits in an XML attribute and in a query's `label=key=value`.
    public static func isValidLabelKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        return isAlphanumeric(bytes[0]) && bytes.allSatisfy { isAlphanumeric($0) || "._-/".utf8.contains($0) }
    }

    /// Reads a patch; every field error of the body comes back together.
    public static func read(json data: some DataProtocol) -> (DomainPatch?, [FieldError]) {
        let json: JSON
        do { json = try JSONParser.parseLocating(Array(data)) } catch {
            return (nil, [FieldError(pointer: "", detail: error.description)])
        }
        guard case .object(let object) = json else {
            return (nil, [FieldError(pointer: "", detail: "must be an object (a JSON merge patch), got \(json.kind)")])
        }
        var patch = DomainPatch()
        var errors: [FieldError] = []
        /// A member's value: nil when absent, `.null` when null (ObjectReader reads both as absent).
        let readerErrors = FieldErrors()
        func member(_ object: JSONObject, _ key: String) -> JSON? {
            guard object.keys.contains(key),
                  let reader = ObjectReader(.object(object), pointer: "", errors: readerErrors) else { return nil }
            return reader.value(key) ?? .null
        }
        for (key, range) in [("vcpus", GuestSpec.vcpusRange), ("memory_mb", GuestSpec.memoryMBRange)] {
            guard let value = member(object, key) else { continue }
            // A size cannot be removed (null), and a fraction is no size.
            if case .integer(let count) = value, range.contains(count) {
                if key == "vcpus" { patch.vcpus = count } else { patch.memoryMB = count }
            } else if case .integer(let count) = value {
                errors.append(FieldError(pointer: "/" + key, detail:
                    "must be from \(range.lowerBound) to \(range.upperBound), got \(count)"))
            } else {
                errors.append(FieldError(pointer: "/" + key, detail: "must be a whole number, got \(value.kind)"))
            }
        }
        if let value = member(object, "autostart") {
            if case .bool(let flag) = value { patch.autostart = flag } else {
                errors.append(FieldError(pointer: "/autostart", detail: "must be a boolean, got \(value.kind)"))
            }
        }
        if let value = member(object, "title") {
            patch.title = text(value, at: "/title", limit: maximumTitleLength, singleLine: true, errors: &errors)
        }
        if let value = member(object, "description") {
            patch.description = text(value, at: "/description", limit: maximumDescriptionLength, singleLine: false,
                                     errors: &errors)
        }
        if let value = member(object, "labels") {
            if case .null = value {
                patch.removesAllLabels = true
            } else if case .object(let labels) = value {
                for label in Array(labels.keys) {
                    let pointer = "/labels/" + ObjectReader.escape(label)
                    guard isValidLabelKey(label) else {
                        errors.append(FieldError(pointer: pointer, detail:
                            "is not a label key: 1 to 63 letters, digits, '.', '_', '-' or '/', starting with a letter or digit"))
                        continue
                    }
                    if let labelValue = member(labels, label),
                       let newValue = text(labelValue, at: pointer, limit: maximumLabelValueLength, singleLine: true,
                                           errors: &errors) {
                        patch.labels.updateValue(newValue, forKey: label)
                    }
                }
            } else {
                errors.append(FieldError(pointer: "/labels", detail: "must be an object or null, got \(value.kind)"))
            }
        }
        for key in object.keys where !["vcpus", "memory_mb", "autostart", "title", "description", "labels"].contains(key) {
            errors.append(FieldError(pointer: "/" + ObjectReader.escape(key), detail: "is not a field that can be patched"))
        }
        return errors.isEmpty ? (patch, []) : (nil, errors)
    }

    private static func text(_ value: JSON, at pointer: String, limit: Int, singleLine: Bool,
                         errors: inout [FieldError]) -> String?? {
        switch value {
        case .null: return .some(nil)
        case .string(let string):
            // Characters as JSON Schema's maxLength counts them (code points).
            if string.unicodeScalars.count > limit {
                errors.append(FieldError(pointer: pointer, detail: "must be at most \(limit) characters"))
            } else if singleLine, string.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) {
                errors.append(FieldError(pointer: pointer, detail: "must be one line"))
            } else if string.unicodeScalars.contains(where: {
                ObjectReader.isForbidden($0) && !(singleLine == false && ($0 == "\n" || $0 == "\t" || $0 == "\r"))
            }) {
                errors.append(FieldError(pointer: pointer, detail: ObjectReader.forbiddenDetail))
            } else {
                return .some(string)
            }
            return nil
        default:
            errors.append(FieldError(pointer: pointer, detail: "must be a string or null, got \(value.kind)"))
            return nil
        }
    }
}
