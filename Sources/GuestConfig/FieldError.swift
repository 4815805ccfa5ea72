/// One problem with one field of a guest spec.
public struct FieldError: Sendable, Hashable, Codable, CustomStringConvertible {
    /// RFC 6901 JSON pointer into the request body, e.g. `/spec/disks/0/bus`.
    public var pointer: String
    public var detail: String

    public init(pointer: String, detail: String) {
        self.pointer = pointer
        self.detail = detail
    }

    public var description: String { "\(pointer): \(detail)" }
}

/// A guest spec that cannot be used, with every reason at once.
public struct GuestSpecError: Error, Sendable, CustomStringConvertible {
    public var errors: [FieldError]

    /// The detail of the one error reported when the body is not JSON at all (malformed, or
    /// nested deeper than the parser allows).
    public static let notJSON = "is not valid JSON"

    /// The detail of the one error reported when the body is empty (or only white space).
    public static let emptyBody = "is empty"

    /// Whether the body failed to parse, rather than a field failed its rules. The detail then
    /// says where (line, column and byte offset), after ``notJSON``.
    public var isMalformedJSON: Bool {
        errors.count == 1 && (errors[0].detail.hasPrefix(Self.notJSON) || errors[0].detail == Self.emptyBody)
    }

    public init(_ errors: [FieldError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "; ") }
}
