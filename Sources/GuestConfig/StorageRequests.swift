import FoundationEssentials

/// Names of storage pools and volumes. A dir pool's volume name becomes a file name, so a
/// name the service creates is a portable file name: letters, digits, `.`, `_`, `+` and `-`,
/// not starting with `.` (so never `.` or `..`), at most 255 bytes (Linux's NAME_MAX).
/// A name that only refers to an existing object (a path parameter, a backing volume) may be
/// anything libvirt holds, but never one that could name another object: `.`, `..`, a `/`,
/// or a NUL (which would reach libvirt's C string cut short).
public enum StorageName {
    public static let maximumBytes = 255

    /// Why `name` may not name a new pool or volume, or nil when it may.
    public static func refusal(of name: String) -> String? {
        if let refusal = referenceRefusal(of: name) { return refusal }
        if name.utf8.count > maximumBytes { return "must be at most \(maximumBytes) bytes long" }
        if name.hasPrefix(".") { return "must not start with ." }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-")
        }
        return allowed ? nil : "must be letters, digits, '.', '_', '+' and '-', got \(name)"
    }

    /// Why `name` may not refer to an existing pool or volume, or nil when it may.
    public static func referenceRefusal(of name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.contains(0) { return "must not contain NUL" }
        if name.utf8.contains(UInt8(ascii: "/")) { return "must not contain /" }
        if name == "." || name == ".." { return "must not be . or .." }
        return nil
    }
}

/// `POST /v1/storage/pools`: `{"name", "type": "dir", "path"}`.
public struct PoolCreation: Sendable, Hashable {
    public var name: String
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    /// Reads and checks the request; `policy` decides where the pool's directory may be.
    public static func read(json data: some DataProtocol, policy: ValidationPolicy) throws(GuestSpecError) -> PoolCreation {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let name = reader.string("name")
        _ = reader.choice("type", ["dir"])
        let path = reader.string("path")
        reader.finish()
        if !reader.has("name") { errors.add("/name", "is required") }
        if let name, let refusal = StorageName.refusal(of: name) { errors.add("/name", refusal) }
        if !reader.has("type") { errors.add("/type", "is required") }
        if path == nil, !reader.has("path") { errors.add("/path", "is required") }
        if let path, let refusal = policy.refusal(of: path) { errors.add("/path", refusal) }
        guard errors.errors.isEmpty, let name, let path else { throw GuestSpecError(errors.errors) }
        return PoolCreation(name: name, path: path)
    }

    /// The pool's definition (libvirt's `<pool type='dir'>`).
    public var element: Element {
        Element("pool", [("type", "dir")]) {
            Element("name", text: name)
            Element("target") {
                Element("path", text: path)
            }
        }
    }
}

/// `POST /v1/storage/pools/{pool}/volumes`: `{"name", "capacity_bytes", "format", "backing": {"pool", "volume"}}`.
public struct VolumeCreation: Sendable, Hashable {
    public struct Backing: Sendable, Hashable {
        public var pool: String
        public var volume: String

        public init(pool: String, volume: String) {
            self.pool = pool
            self.volume = volume
        }
    }

    public static let formats = ["qcow2", "raw"]
    /// 1 PiB: beyond what any host here offers, within what every field can hold.
    public static let maximumCapacity = 1 << 50

    public var name: String
    /// Nil with a backing volume: the overlay takes the backing volume's size.
    public var capacityBytes: Int?
    public var format: String
    public var backing: Backing?

    public init(name: String, capacityBytes: Int?, format: String, backing: Backing?) {
        self.name = name
        self.capacityBytes = capacityBytes
        self.format = format
        self.backing = backing
    }

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> VolumeCreation {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let name = reader.string("name")
        let capacity = reader.int("capacity_bytes", in: 1...maximumCapacity)
        let format = reader.choice("format", formats) ?? (reader.has("format") ? nil : "qcow2")
        var backing: Backing?
        if let backingReader = reader.object("backing") {
            let pool = backingReader.string("pool")
            let volume = backingReader.string("volume")
            backingReader.finish()
            for (key, value) in [("pool", pool), ("volume", volume)] {
                if value == nil, !backingReader.has(key) { errors.add("/backing/\(key)", "is required") }
                if let value, let refusal = StorageName.referenceRefusal(of: value) { errors.add("/backing/\(key)", refusal) }
            }
            if let pool, let volume { backing = Backing(pool: pool, volume: volume) }
            if format == "raw" { errors.add("/backing", "needs format qcow2: a raw volume cannot have a backing file") }
        }
        reader.finish()
        if !reader.has("name") { errors.add("/name", "is required") }
        if let name, let refusal = StorageName.refusal(of: name) { errors.add("/name", refusal) }
        if let capacity, !(1...maximumCapacity).contains(capacity) {
            errors.add("/capacity_bytes", "must be between 1 and \(maximumCapacity)")
        }
        if capacity == nil, !reader.has("capacity_bytes"), !reader.has("backing") {
            errors.add("/capacity_bytes", "is required unless the volume has a backing volume")
        }
        guard errors.errors.isEmpty, let name, let format else { throw GuestSpecError(errors.errors) }
        return VolumeCreation(name: name, capacityBytes: capacity, format: format, backing: backing)
    }

    /// The volume's definition (libvirt's `<volume>`), on the backing file at `backingPath`
    /// of `backingFormat` when there is one.
    public func element(capacityBytes: Int, backingPath: String?, backingFormat: String?) -> Element {
        Element("volume") {
            Element("name", text: name)
            Element("capacity", [("unit", "bytes")], text: String(capacityBytes))
            // A file pool allocates nothing up front: a qcow2 file or a sparse raw file.
            Element("allocation", [("unit", "bytes")], text: "0")
            Element("target") {
                Element("format", [("type", format)])
            }
            backingPath.map { path in
                Element("backingStore") {
                    Element("path", text: path)
                    Element("format", [("type", backingFormat ?? "raw")])
                }
            }
        }
    }
}

enum StorageRequest {
    static func reader(_ data: some DataProtocol, errors: FieldErrors) throws(GuestSpecError) -> ObjectReader {
        let json: JSON
        do { json = try JSONParser.parseLocating(Array(data)) } catch {
            throw GuestSpecError([FieldError(pointer: "", detail: error.description)])
        }
        guard let reader = ObjectReader(json, pointer: "", errors: errors) else { throw GuestSpecError(errors.errors) }
        return reader
    }
}
