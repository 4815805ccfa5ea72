import HTTPServer

/// What a token may do. `read` calls every GET except the secure form of a domain's XML,
/// which can hold console passwords; `write` calls everything.
public enum Scope: String, Sendable, CaseIterable, Comparable {
    case read
    case write

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs == .read && rhs == .write }

    /// Paths anyone may call: the probes of an orchestrator, which holds no token.
    public static let publicPaths: Set<String> = ["/healthz", "/readyz"]

    /// The scope a request needs; nil for the public probes. Decided on the method, path and
    /// query alone, the way the router will see them, so an unknown path needs a token too.
    public static func required(for request: Request) -> Scope? {
        if publicPaths.contains(request.path) { return nil }
        switch request.method {
        case "GET", "HEAD":
            let segments = request.path.split(separator: "/", omittingEmptySubsequences: true)
            if segments.count == 4, segments[0] == "v1", segments[1] == "domains", segments[3] == "xml",
               request.queryValues("secure").contains(where: { !["false", "0", "no"].contains($0.lowercased()) }) {
                return .write
            }
            return .read
        default:
            return .write
        }
    }
}
