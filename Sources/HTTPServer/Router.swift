/// Maps a method and path to a handler. Patterns are `/`-separated segments, each literal
/// or a `{name}` parameter that matches one non-empty segment.
public struct Router: Sendable {
    public typealias Handler = @Sendable (Request) async throws -> Response

    public struct Route: Sendable {
        public let method: String
        public let pattern: String
        let segments: [Segment]
        /// What the route needs and takes, checked on the request's head before its body is read.
        public let options: RouteOptions
        public let handler: Handler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    public enum Match: Sendable {
        case found(Route, parameters: [String: String])
        /// The path exists with other methods; `pattern` is the route the path matched, for
        /// labels.
        case methodNotAllowed(allowed: [String], pattern: String)
        case notFound
    }

    public private(set) var routes: [Route] = []

    public init() {}

    public mutating func add(_ method: String, _ pattern: String, options: RouteOptions? = nil,
                             _ handler: @escaping Handler) {
        let segments = Router.split(pattern).map { part -> Segment in
            if part.hasPrefix("{"), part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
        precondition(!routes.contains { $0.method == method && $0.segments == segments },
                     "route \(method) \(pattern) is defined twice")
        routes.append(Route(method: method, pattern: pattern, segments: segments,
                            options: options ?? RouteOptions(access: method == "GET" ? .read : .write),
                            handler: handler))
    }

    public mutating func get(_ pattern: String, options: RouteOptions = RouteOptions(access: .read),
                             _ handler: @escaping Handler) { add("GET", pattern, options: options, handler) }
    public mutating func post(_ pattern: String, options: RouteOptions = RouteOptions(access: .write),
                              _ handler: @escaping Handler) { add("POST", pattern, options: options, handler) }
    public mutating func delete(_ pattern: String, options: RouteOptions = RouteOptions(access: .write),
                                _ handler: @escaping Handler) { add("DELETE", pattern, options: options, handler) }

    /// `HEAD` is answered by the `GET` route of the path (RFC 9110 §9.3.2) unless a route
    /// takes `HEAD` itself.
    public func match(method: String, path: String) -> Match {
        let parts = Router.split(path)
        var allowed: [String] = []
        var matchedPattern: String?
        var getRoute: (Route, [String: String])?
        for route in routes {
            guard let parameters = route.bind(parts) else { continue }
            if route.method == method { return .found(route, parameters: parameters) }
            if route.method == "GET", getRoute == nil { getRoute = (route, parameters) }
            if matchedPattern == nil { matchedPattern = route.pattern }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if method == "HEAD", let (route, parameters) = getRoute { return .found(route, parameters: parameters) }
        guard let matchedPattern else { return .notFound }
        return .methodNotAllowed(allowed: Router.withImplicitMethods(allowed), pattern: matchedPattern)
    }

    /// The request with its route filled in, as the server fills it before admission sees it.
    public func resolve(_ request: Request) -> Request {
        var resolved = request
        if case .found(let route, let parameters) = match(method: request.method, path: request.path) {
            resolved.route = route.pattern
            resolved.routeOptions = route.options
            resolved.pathParameters = parameters
        }
        return resolved
    }

    /// The methods a path answers: its routes', plus `HEAD` where `GET` is and `OPTIONS`.
    public func allowedMethods(path: String) -> [String] {
        let parts = Router.split(path)
        var methods: [String] = []
        for route in routes where route.bind(parts) != nil && !methods.contains(route.method) {
            methods.append(route.method)
        }
        return methods.isEmpty ? [] : Router.withImplicitMethods(methods)
    }

    static func withImplicitMethods(_ methods: [String]) -> [String] {
        var all = methods
        if all.contains("GET"), !all.contains("HEAD") { all.append("HEAD") }
        if !all.contains("OPTIONS") { all.append("OPTIONS") }
        return all
    }

    static func split(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}

/// Who may call a route: decided before the body is read, from the route, never from
/// re-parsing the path.
public enum RouteAccess: Sendable {
    /// Anyone, without credentials (an orchestrator's probes).
    case `public`
    case read
    case write
    /// Decided per request on its head (e.g. a query parameter that reveals secrets).
    case decided(@Sendable (Request) -> RouteAccess)

    /// The level this request needs: never `.decided`.
    public func resolved(for request: Request) -> RouteAccess {
        if case .decided(let decide) = self { return decide(request).resolved(for: request) }
        return self
    }
}

/// What a route needs and takes. The server checks it on the request's head, before reading
/// the body: the content type, the size of the body, and (through admission) the access.
public struct RouteOptions: Sendable {
    public var access: RouteAccess
    /// Media types the body must be sent as; empty when the route reads no body (then any
    /// body is read and ignored, up to the server's limit). Anything else is 415.
    public var bodyContentTypes: [String]
    /// The largest body the route takes; nil is the server's ``HTTPServer/Configuration/maxBodySize``.
    public var bodyLimit: Int?
    /// The handler gets the body as ``Request/bodyStream`` while it arrives, with
    /// back-pressure, rather than collected in ``Request/body``; ``bodyLimit`` still applies.
    public var streamsBody: Bool
    /// The route may answer with ``Response/upgrade(_:)`` (e.g. WebSocket).
    public var upgrade: Bool
    /// The route honours `Idempotency-Key`.
    public var idempotent: Bool

    public init(access: RouteAccess, bodyContentTypes: [String] = [], bodyLimit: Int? = nil,
                streamsBody: Bool = false, upgrade: Bool = false, idempotent: Bool = false) {
        self.access = access
        self.bodyContentTypes = bodyContentTypes
        self.bodyLimit = bodyLimit
        self.streamsBody = streamsBody
        self.upgrade = upgrade
        self.idempotent = idempotent
    }

    /// A route that reads a JSON body (`application/json`) and needs `write`.
    public static func jsonBody(idempotent: Bool = false, bodyLimit: Int? = nil) -> RouteOptions {
        RouteOptions(access: .write, bodyContentTypes: ["application/json"], bodyLimit: bodyLimit,
                     idempotent: idempotent)
    }

    /// A route that takes a JSON merge patch (RFC 7396).
    public static func mergePatchBody(bodyLimit: Int? = nil) -> RouteOptions {
        RouteOptions(access: .write, bodyContentTypes: ["application/merge-patch+json"], bodyLimit: bodyLimit)
    }

    /// Whether a `Content-Type` header names one of ``bodyContentTypes`` (parameters such as
    /// `charset` are ignored, and case too).
    public func accepts(contentType header: String?) -> Bool {
        guard !bodyContentTypes.isEmpty else { return true }
        guard let header else { return false }
        let mediaType = header.split(separator: ";", maxSplits: 1).first.map {
            String($0).trimmingBlanks().lowercased()
        } ?? ""
        return bodyContentTypes.contains { $0.lowercased() == mediaType }
    }
}

extension Router.Route {
    func bind(_ parts: [Substring]) -> [String: String]? {
        guard parts.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal): guard part == literal else { return nil }
            case .parameter(let name): parameters[name] = String(part)
            }
        }
        return parameters
    }
}

extension String {
    func trimmingBlanks() -> String {
        let characters: Set<Character> = [" ", "\t"]
        return String(drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
