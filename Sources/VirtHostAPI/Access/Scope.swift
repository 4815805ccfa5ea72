import HTTPServer

/// What a token may do. `read` calls every GET except the secure form of a domain's XML,
/// which can hold console passwords; `write` calls everything.
public enum Scope: String, Sendable, CaseIterable, Comparable {
    case read
    case write

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs == .read && rhs == .write }

    /// Paths of the public routes, where mutual TLS does not ask for a client certificate
    /// (a test checks that these are the routes declared `.public`).
    public static let publicPaths: Set<String> = ["/healthz", "/readyz"]

    /// The scope a request needs; nil for public routes (the probes of an orchestrator, which
    /// holds no token). The matched route declares it (``RouteOptions/access``); a request
    /// that matched no route needs a token too (`read` to look, `write` for anything else),
    /// so paths cannot be probed anonymously.
    public static func required(for request: Request) -> Scope? {
        guard let options = request.routeOptions else {
            return ["GET", "HEAD", "OPTIONS"].contains(request.method) ? .read : .write
        }
        switch options.access.resolved(for: request) {
        case .public: return nil
        case .read, .decided: return .read
        case .write: return .write
        }
    }
}
