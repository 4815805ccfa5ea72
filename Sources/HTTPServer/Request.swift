/// One HTTP request, fully read.
public struct Request: Sendable {
    public let method: String
    /// The path, percent-decoded by libmicrohttpd, without the query.
    public let path: String
    /// Query arguments in order; a key without `=` has the value "".
    public let query: [(name: String, value: String)]
    public let headers: HTTPHeaders
    public internal(set) var body: [UInt8]
    /// The body as it arrives, on routes declared with ``RouteOptions/streamsBody`` (``body``
    /// is then empty); nil on other routes.
    public internal(set) var bodyStream: RequestBodyStream?
    /// `X-Request-Id`: the client's when it sent a usable one, else a new one.
    public let id: String
    /// Values of the route's `{name}` segments.
    public internal(set) var pathParameters: [String: String] = [:]
    /// Who sent it, as the server's admission said; nil when anonymous.
    public internal(set) var principal: String?
    /// The client's TLS certificate, when the server asks for one.
    public internal(set) var clientCertificate: ClientCertificate = .notRequested
    /// The pattern of the route the request matched (`/v1/domains/{ref}`); nil when none did.
    public internal(set) var route: String?
    /// The matched route's options; nil when no route matched.
    public internal(set) var routeOptions: RouteOptions?

    public init(method: String, path: String, query: [(name: String, value: String)] = [],
                headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], id: String = RequestID.make()) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.id = id
    }

    /// The first value of a query argument.
    public func query(_ name: String) -> String? { query.first { $0.name == name }?.value }

    /// Every value of a repeatable query argument.
    public func queryValues(_ name: String) -> [String] { query.filter { $0.name == name }.map(\.value) }

    public func pathParameter(_ name: String) -> String? { pathParameters[name] }
}

/// Request ids: a client's `X-Request-Id` is kept when it is short and plain; otherwise the
/// server makes one.
public enum RequestID {
    public static func make() -> String {
        let value = UInt64.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The client's id if usable: 1–128 characters of letters, digits, `-`, `_`, `.`, `:`.
    public static func accept(_ candidate: String?) -> String? {
        guard let candidate, !candidate.isEmpty, candidate.utf8.count <= 128,
              candidate.utf8.allSatisfy({ byte in
                  (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                      || byte == 0x2D || byte == 0x5F || byte == 0x2E || byte == 0x3A
              }) else { return nil }
        return candidate
    }
}
