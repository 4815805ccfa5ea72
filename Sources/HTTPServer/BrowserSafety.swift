/// What keeps a web page from using the operator's browser against the server.
///
/// A page on any site can make the browser send "simple" requests (a no-cors `fetch`, a form)
/// to a loopback service; with DNS rebinding it can even read the answers under its own
/// host name. Three checks on every request's head, before any route runs, close that:
/// the `Host` header must name this server (defeats rebinding), an `Origin` other than the
/// server's own must be one the operator allowed (defeats cross-site requests), and routes
/// that read a body say which media types they take (a form or `text/plain` body, which
/// needs no preflight, is refused). Allowed origins also get CORS answers, so a web console
/// served from one of them works.
public struct BrowserSafety: Sendable {
    /// Host names (or `name:port`) accepted in `Host` beyond the listening address,
    /// `localhost` and loopback addresses; compared without regard to case.
    public var allowedHosts: [String]
    /// Origins (`scheme://host[:port]`) allowed to call across origins, with CORS.
    public var allowedOrigins: [String]

    public init(allowedHosts: [String] = [], allowedOrigins: [String] = []) {
        self.allowedHosts = allowedHosts.map { $0.lowercased() }
        self.allowedOrigins = allowedOrigins.map(BrowserSafety.normalizedOrigin)
    }

    /// Headers a cross-origin client may send (preflight's `Access-Control-Allow-Headers`).
    public static let corsAllowedHeaders = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Request-Id"
    /// Headers a cross-origin client may read.
    public static let corsExposedHeaders = "Location, X-Request-Id, Retry-After"
    /// Seconds a browser may cache a preflight answer.
    public static let corsMaxAge = "600"

    /// Problem types of the refusals.
    public enum Problems {
        public static let hostNotAllowed = "host-not-allowed"
        public static let originNotAllowed = "origin-not-allowed"
        public static let unsupportedMediaType = "unsupported-media-type"
    }

    // MARK: Host

    /// Whether a `Host` header names this server. A request without one (HTTP/1.0) is let
    /// through: browsers always send it.
    public func allows(host header: String?, listeningOn listenAddress: String) -> Bool {
        guard let header else { return true }
        let value = header.lowercased()
        guard let name = BrowserSafety.hostName(value) else { return false }
        if allowedHosts.contains(name) || allowedHosts.contains(value) { return true }
        if name == "localhost" || name == "localhost." { return true }
        if BrowserSafety.isLoopback(name) { return true }
        let listening = listenAddress.lowercased().trimmingBrackets()
        if name == listening { return true }
        // A wildcard listener answers on every address it has; an address literal cannot be
        // rebound, only a name can.
        if listening == "0.0.0.0" || listening == "::" { return BrowserSafety.isIPLiteral(name) }
        return false
    }

    /// The name part of `name`, `name:port`, `[v6]` or `[v6]:port`; nil when malformed.
    static func hostName(_ value: String) -> String? {
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { return nil }
            let rest = value[value.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber)) else { return nil }
            return String(value[value.index(after: value.startIndex)..<close])
        }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.first, !name.isEmpty else { return nil }
        if parts.count == 2, parts[1].isEmpty || !parts[1].allSatisfy(\.isNumber) { return nil }
        return String(name)
    }

    static func isLoopback(_ name: String) -> Bool {
        if name == "::1" || name == "0:0:0:0:0:0:0:1" { return true }
        guard let octets = ipv4(name) else { return false }
        return octets[0] == 127
    }

    static func isIPLiteral(_ name: String) -> Bool {
        ipv4(name) != nil || (name.contains(":") && name.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." })
    }

    static func ipv4(_ name: String) -> [Int]? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let octets = parts.compactMap { part -> Int? in
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isNumber) else { return nil }
            return Int(part).flatMap { $0 <= 255 ? $0 : nil }
        }
        return octets.count == 4 ? octets : nil
    }

    // MARK: Origin

    public enum OriginVerdict: Equatable, Sendable {
        /// No `Origin`: not a cross-origin browser request.
        case absent
        case sameOrigin
        /// Another origin the operator allowed: answer with CORS headers for it.
        case allowed(String)
        case refused(String)
    }

    /// Judges an `Origin` header against the server's own origin (its scheme and the request's
    /// `Host`) and the allowed origins.
    public func judge(origin header: String?, host: String?, tls: Bool) -> OriginVerdict {
        guard let header else { return .absent }
        let origin = BrowserSafety.normalizedOrigin(header)
        if let host {
            let own = BrowserSafety.normalizedOrigin((tls ? "https://" : "http://") + host)
            if origin == own { return .sameOrigin }
        }
        if allowedOrigins.contains(origin) { return .allowed(header) }
        return .refused(header)
    }

    /// Lower case, without a default port or a trailing slash, so equal origins compare equal.
    static func normalizedOrigin(_ origin: String) -> String {
        var value = origin.lowercased()
        while value.hasSuffix("/") { value.removeLast() }
        if value.hasPrefix("http://"), value.hasSuffix(":80") { value.removeLast(3) }
        if value.hasPrefix("https://"), value.hasSuffix(":443") { value.removeLast(4) }
        return value
    }
}

extension String {
    func trimmingBrackets() -> String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
