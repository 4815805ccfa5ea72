import FoundationEssentials

/// `POST /v1/domains/{ref}/migrate` and the query of `GET …/migration-check`: where the
/// domain goes and how. Only the destination is required; the rest default as Nova's live
/// migration does (live, peer-to-peer, the definition moves with the guest).
public struct MigrationRequest: Sendable, Hashable {
    public enum CopyStorage: String, Sendable, Hashable, CaseIterable {
        /// Every disk must be shared with the destination.
        case none
        /// Disks the destination does not share are copied there while the guest runs.
        case all
    }

    /// The destination's libvirt URI (`qemu+tcp://host-b/system`).
    public var destination: String
    /// Where the migration stream goes (`tcp://10.0.0.2`), when not where the destination's
    /// libvirt would say.
    public var destinationURI: String?
    public var live = true
    public var copyStorage = CopyStorage.none
    public var maxDowntimeMilliseconds: Int?
    public var bandwidthMiBs: Int?
    public var autoConverge = false
    public var postcopy = false
    public var persistent = true
    public var undefineSource = true
    public var compressed = false
    public var tls = false

    public init(destination: String, destinationURI: String? = nil, copyStorage: CopyStorage = .none) {
        self.destination = destination
        self.destinationURI = destinationURI
        self.copyStorage = copyStorage
    }

    /// The limits the OpenAPI document states too.
    public static let downtimeRange = 1...600_000
    public static let bandwidthRange = 1...1_000_000

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> MigrationRequest {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        var request = MigrationRequest(destination: reader.string("destination") ?? "")
        request.destinationURI = reader.string("destination_uri")
        request.live = reader.bool("live") ?? true
        if let copy = reader.choice("copy_storage", CopyStorage.allCases.map(\.rawValue)) {
            request.copyStorage = CopyStorage(rawValue: copy) ?? .none
        }
        request.maxDowntimeMilliseconds = reader.int("max_downtime_ms", in: downtimeRange)
        request.bandwidthMiBs = reader.int("bandwidth_mib_s", in: bandwidthRange)
        request.autoConverge = reader.bool("auto_converge") ?? false
        request.postcopy = reader.bool("postcopy") ?? false
        request.persistent = reader.bool("persistent") ?? true
        request.undefineSource = reader.bool("undefine_source") ?? true
        request.compressed = reader.bool("compressed") ?? false
        request.tls = reader.bool("tls") ?? false
        reader.finish()
        if !reader.has("destination") { errors.add("/destination", "is required") }
        for error in request.refusals() where reader.has("destination") || error.pointer != "/destination" {
            errors.add(error.pointer, error.detail)
        }
        guard errors.errors.isEmpty else { throw GuestSpecError(errors.errors) }
        return request
    }

    /// What is wrong with the values themselves, each with its JSON pointer.
    public func refusals() -> [FieldError] {
        var errors: [FieldError] = []
        if let refusal = Self.destinationRefusal(destination) { errors.append(FieldError(pointer: "/destination", detail: refusal)) }
        if let destinationURI, let refusal = Self.streamURIRefusal(destinationURI) {
            errors.append(FieldError(pointer: "/destination_uri", detail: refusal))
        }
        if let value = maxDowntimeMilliseconds, !Self.downtimeRange.contains(value) {
            errors.append(FieldError(pointer: "/max_downtime_ms", detail: Self.rangeDetail(Self.downtimeRange, value)))
        }
        if let value = bandwidthMiBs, !Self.bandwidthRange.contains(value) {
            errors.append(FieldError(pointer: "/bandwidth_mib_s", detail: Self.rangeDetail(Self.bandwidthRange, value)))
        }
        if postcopy, !live {
            errors.append(FieldError(pointer: "/postcopy", detail: "needs a live migration"))
        }
        if autoConverge, !live {
            errors.append(FieldError(pointer: "/auto_converge", detail: "needs a live migration"))
        }
        if undefineSource, !persistent {
            errors.append(FieldError(pointer: "/undefine_source",
                                     detail: "would lose the definition: the destination keeps none unless persistent is true"))
        }
        return errors
    }

    static func rangeDetail(_ range: ClosedRange<Int>, _ value: Int) -> String {
        value < range.lowerBound ? "must be at least \(range.lowerBound), got \(value)"
            : "must be at most \(range.upperBound), got \(value)"
    }

    /// Transports libvirt's remote driver knows (`driver+transport://`).
    public static let transports: Set<String> = ["tcp", "tls", "ssh", "libssh", "libssh2", "unix", "ext"]
    /// Never in a URI given to libvirt: a transport such as `ssh` or `ext` runs a command, and
    /// these would mean something to a shell.
    static let shellCharacters = Set(" \t\n\r;|&$`'\"\\<>(){}!*^~#")
    static let maximumURILength = 1024
    /// A host name, an IPv4 address, or an IPv6 one in brackets, and a port.
    static let hostCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]")
    /// What a URI may hold besides letters and digits (the OpenAPI document's pattern says the same).
    static let uriCharacters = Set("._:@[]%/?=,+-")

    /// Why `uri` is not a libvirt URI of another host: `driver+transport://[user@]host[:port]/path[?query]`,
    /// or `driver://host/path` (TLS implied). A URI with neither transport nor host names the
    /// local libvirt, never a destination.
    public static func destinationRefusal(_ uri: String) -> String? {
        if let refusal = characterRefusal(uri) { return refusal }
        if let bad = uri.first(where: { !($0.isASCII && ($0.isLetter || $0.isNumber)) && !uriCharacters.contains($0) }) {
            return "must not contain the character \(bad.debugDescription)"
        }
        let schemeEnd = uri.firstIndex(of: ":")
        guard let schemeEnd, uri[schemeEnd...].hasPrefix("://") else {
            return "must be a libvirt URI such as qemu+tcp://host/system"
        }
        let scheme = uri[..<schemeEnd]
        let parts = scheme.split(separator: "+", omittingEmptySubsequences: false)
        guard let driver = parts.first, isName(driver), parts.count <= 2 else {
            return "must start with a libvirt driver and transport such as qemu+tcp://, got \(scheme)://"
        }
        let rest = uri[uri.index(schemeEnd, offsetBy: 3)...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        if parts.count == 2 {
            let transport = String(parts[1])
            guard transports.contains(transport) else {
                return "has an unknown transport \(transport); libvirt knows " + transports.sorted().joined(separator: ", ")
            }
            if transport != "unix", authority.isEmpty { return "names no host" }
        } else if authority.isEmpty {
            return "names the local libvirt: give the destination's host and a transport, such as qemu+tcp://host/system"
        }
        guard rest.dropFirst(authority.count).hasPrefix("/") else { return "must have a path, such as /system" }
        return nil
    }

    /// Why `uri` is not a migration stream URI: `tcp://host[:port]`, `tcp:host[:port]` or
    /// `rdma://host[:port]`.
    public static func streamURIRefusal(_ uri: String) -> String? {
        if let refusal = characterRefusal(uri) { return refusal }
        for scheme in ["tcp://", "rdma://", "tcp:"] where uri.hasPrefix(scheme) {
            let host = uri.dropFirst(scheme.count)
            if host.isEmpty { return "names no host" }
            if let bad = host.first(where: { !Self.hostCharacters.contains($0) }) {
                return "must be \(scheme)host[:port], with no \(bad.debugDescription)"
            }
            return nil
        }
        return "must be tcp://host[:port] or rdma://host[:port]"
    }

    private static func characterRefusal(_ uri: String) -> String? {
        if uri.isEmpty { return "must not be empty" }
        if uri.utf8.count > maximumURILength { return "must be at most \(maximumURILength) bytes" }
        if let bad = uri.first(where: { shellCharacters.contains($0) || !$0.isASCII || $0.asciiValue! < 0x20 }) {
            return "must not contain \(bad == " " ? "spaces" : "the character \(bad.debugDescription)")"
        }
        return nil
    }

    private static func isName(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }
}
