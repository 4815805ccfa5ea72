import FoundationEssentials

/// A parsed JSON value, as the guest spec reader walks it.
enum JSON {
    case object(JSONObject)
    case array([JSON])
    case string(String)
    /// A string whose bytes are not valid UTF-8: reported at its field, not repaired.
    case malformedString
    /// A whole number within 64 bits, read exactly (also when written `1.0` or `1e3`).
    case integer(Int)
    /// A whole number beyond 64 bits: no field takes one, so only its sign and digits are kept
    /// (for the error message).
    case largeInteger(negative: Bool, text: String)
    /// A number with a fraction.
    case number(Double)
    case bool(Bool)
    case null

    var kind: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .malformedString: "a string that is not valid UTF-8"
        case .integer, .largeInteger: "a whole number"
        case .number: "a fraction"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

/// A JSON object's members in document order; a key given twice keeps its last value, as in
/// a dictionary. A spec's objects have a few keys each: finding one by comparing is cheaper
/// than hashing, so only large objects get an index (and stay linear to build).
struct JSONObject {
    private(set) var members: [(key: String, value: JSON)] = []
    private var index: [String: Int]?
    static let indexedFrom = 16

    var count: Int { members.count }
    var keys: some Collection<String> { members.lazy.map(\.key) }

    func position(of key: String) -> Int? {
        if let index { return index[key] }
        for position in members.indices where members[position].key == key { return position }
        return nil
    }

    mutating func set(_ key: String, _ value: JSON) {
        if let position = position(of: key) {
            members[position].value = value
            return
        }
        members.append((key, value))
        if index != nil {
            index?[key] = members.count - 1
        } else if members.count >= Self.indexedFrom {
            index = Dictionary(uniqueKeysWithValues: members.indices.map { (members[$0].key, $0) })
        }
    }
}

/// Collects every field error of one request, so the caller hears of all at once.
final class FieldErrors {
    private(set) var errors: [FieldError] = []

    func add(_ pointer: String, _ detail: String) {
        errors.append(FieldError(pointer: pointer, detail: detail))
    }
}

/// Reads one JSON object of the spec: typed fields by key, each error recorded with its
/// RFC 6901 pointer; keys that were never read are reported as unknown by ``finish()``.
final class ObjectReader {
    let pointer: String
    let errors: FieldErrors
    private let object: JSONObject
    /// Per member, whether a reader asked for it: bits of a word for the usual object, an
    /// array only for one of more than 64 members.
    private var readBits: UInt64 = 0
    private var readBeyond64: [Bool] = []
    private var finished = false

    init?(_ json: JSON, pointer: String, errors: FieldErrors) {
        guard case .object(let object) = json else {
            errors.add(pointer, "must be an object, got \(json.kind)")
            return nil
        }
        self.object = object
        if object.count > 64 { readBeyond64 = Array(repeating: false, count: object.count - 64) }
        self.pointer = pointer
        self.errors = errors
    }

    func path(_ key: String) -> String { pointer + "/" + Self.escape(key) }

    /// RFC 6901: `~` → `~0`, `/` → `~1`.
    static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    /// The raw value; absent and null are both nil.
    func value(_ key: String) -> JSON? {
        guard let position = object.position(of: key) else { return nil }
        markRead(position)
        let value = object.members[position].value
        if case .null = value { return nil }
        return value
    }

    private func markRead(_ position: Int) {
        if position < 64 { readBits |= 1 << UInt64(position) } else { readBeyond64[position - 64] = true }
    }

    private func wasRead(_ position: Int) -> Bool {
        position < 64 ? readBits & (1 << UInt64(position)) != 0 : readBeyond64[position - 64]
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func string(_ key: String) -> String? {
        guard let string = anyString(key) else { return nil }
        checkCharacters(string, at: path(key))
        return string
    }

    /// A string field as it is, its characters not yet checked; a wrong type or invalid UTF-8
    /// is reported.
    private func anyString(_ key: String) -> String? {
        guard let value = value(key) else { return nil }
        if case .malformedString = value {
            errors.add(path(key), "must be valid UTF-8")
            return nil
        }
        guard case .string(let string) = value else {
            errors.add(path(key), "must be a string, got \(value.kind)")
            return nil
        }
        return string
    }

    /// Reports a string with characters no field may hold; every string a spec holds goes
    /// through here.
    /// The pointer is made only for an error: building it for every string cost a string
    /// allocation per field.
    func checkCharacters(_ string: String, at pointer: @autoclosure () -> String) {
        // Byte-wise first: control characters are single bytes, and U+FFFE/U+FFFF start with 0xEF.
        guard string.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xEF }) else { return }
        if string.unicodeScalars.contains(where: Self.isForbidden) { errors.add(pointer(), Self.forbiddenDetail) }
    }

    /// A whole number, read exactly, never rounded. `range` is the field's limits (which the
    /// OpenAPI document states too): a number beyond 64 bits can only be refused here, with the
    /// limit it is past; one within 64 bits is kept, and ``GuestDefinition`` holds it to the
    /// range with the spec's other rules, so every error is reported together.
    func int(_ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = value(key) else { return nil }
        switch value {
        case .integer(let int):
            return int
        case .largeInteger(let negative, let text):
            errors.add(path(key), negative ? "must be at least \(range.lowerBound), got \(text)"
                       : "must be at most \(range.upperBound), got \(text)")
        default:
            errors.add(path(key), "must be a whole number, got \(value.kind)")
        }
        return nil
    }

    func bool(_ key: String) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let bool) = value else {
            errors.add(path(key), "must be true or false, got \(value.kind)")
            return nil
        }
        return bool
    }

    /// A string that must be one of `allowed`.
    func choice(_ key: String, _ allowed: [String]) -> String? {
        guard let string = string(key) else { return nil }
        guard allowed.contains(string) else {
            errors.add(path(key), "must be one of \(allowed.joined(separator: ", ")), got \(string)")
            return nil
        }
        return string
    }

    func object(_ key: String) -> ObjectReader? {
        guard let value = value(key) else { return nil }
        return ObjectReader(value, pointer: path(key), errors: errors)
    }

    /// Each element of an array field, with its pointer.
    func array(_ key: String) -> [(value: JSON, pointer: String)] {
        guard let value = value(key) else { return [] }
        guard case .array(let items) = value else {
            errors.add(path(key), "must be an array, got \(value.kind)")
            return []
        }
        let base = path(key) + "/"
        return items.enumerated().map { ($0.element, base + String($0.offset)) }
    }

    /// Objects of an array field, each read by `body`.
    func objects<T>(_ key: String, _ body: (ObjectReader) -> T) -> [T] {
        array(key).compactMap { item in
            ObjectReader(item.value, pointer: item.pointer, errors: errors).map { reader in
                let result = body(reader)
                reader.finish()
                return result
            }
        }
    }

    /// C0 controls, DEL, and U+FFFE and U+FFFF: XML cannot carry most of them (the serialiser
    /// would write U+FFFD instead, so the guest would get another string than was checked),
    /// and no field needs any.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0xFFFE || scalar.value == 0xFFFF
    }
    static let forbiddenDetail = "must not contain control characters, U+FFFE or U+FFFF"

    /// A map of string to string.
    func stringMap(_ key: String) -> [String: String] {
        guard let reader = object(key) else { return [:] }
        var result: [String: String] = [:]
        for name in reader.object.keys {
            // Keys become attribute values (`key=`, `name=`), held to the same rule as values.
            if name.unicodeScalars.contains(where: Self.isForbidden) {
                errors.add(reader.path(name), "is a name that " + Self.forbiddenDetail)
            }
            if let value = reader.string(name) { result[name] = value }
        }
        return result
    }

    /// A multi-line text (user data): like ``string(_:)``, but tab, line feed and carriage
    /// return are allowed; other control characters are not.
    func text(_ key: String) -> String? {
        guard let string = anyString(key) else { return nil }
        if string.unicodeScalars.contains(where: { Self.isForbidden($0) && !["\t", "\n", "\r"].contains($0) }) {
            errors.add(path(key), "must not contain control characters other than tab, line feed and carriage return, U+FFFE or U+FFFF")
        }
        return string
    }

    /// The strings of an array field; an element of another kind is reported at its pointer.
    func strings(_ key: String) -> [(value: String, pointer: String)] {
        array(key).compactMap { item in
            switch item.value {
            case .string(let string):
                checkCharacters(string, at: item.pointer)
                return (string, item.pointer)
            case .malformedString:
                errors.add(item.pointer, "must be valid UTF-8")
            default:
                errors.add(item.pointer, "must be a string, got \(item.value.kind)")
            }
            return nil
        }
    }

    /// Each member of an object field whose keys are names the caller chooses (not field
    /// names), in document order, read by `body` as an object.
    func objectMembers<T>(_ key: String, _ body: (String, ObjectReader) -> T) -> [(key: String, value: T)] {
        guard let members = object(key) else { return [] }
        var result: [(key: String, value: T)] = []
        for name in members.object.keys {
            guard members.has(name) else {
                errors.add(members.path(name), "must be an object, got null")
                continue
            }
            guard let reader = members.object(name) else { continue }
            result.append((name, body(name, reader)))
            reader.finish()
        }
        return result
    }

    /// Reports every key of the object that no reader asked for.
    func finish() {
        guard !finished else { return }
        finished = true
        for key in object.members.indices.filter({ !wasRead($0) }).map({ object.members[$0].key }).sorted() {
            errors.add(path(key), "is not a field of this object")
        }
    }
}
