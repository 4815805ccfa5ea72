import HTTPServer
import Locking

/// Decides who may call what, on libmicrohttpd's thread before a request's body is read.
///
/// With tokens, every call but the probes needs `Authorization: Bearer <token>` whose SHA-256
/// is in the tokens file with a scope that covers the call. With mutual TLS and no tokens, the
/// server has verified the client certificate already and its subject is the caller, with
/// full rights. With neither, everyone is admitted (the service refuses to start like that
/// on anything but loopback unless told to).
public final class Authenticator: Sendable {
    /// nil when tokens are not in use.
    private let tokens: Mutex<TokenFile?>
    public let realm = "virthost"

    public enum Problems {
        public static let unauthorized = "unauthorized"
        public static let forbidden = "forbidden"
    }

    public init(tokens: TokenFile?) {
        self.tokens = Mutex(tokens)
    }

    public var usesTokens: Bool { tokens.withLock { $0 != nil } }

    /// Swaps in a re-read tokens file (on SIGHUP); requests under way keep their verdict.
    public func replaceTokens(_ file: TokenFile) {
        tokens.withLock { $0 = file }
    }

    @Sendable public func admission(_ request: Request) -> Admission {
        guard let needed = Scope.required(for: request) else { return .admit(principal: nil) }
        guard let file = tokens.withLock({ $0 }) else {
            if case .verified(let subject) = request.clientCertificate { return .admit(principal: subject) }
            return .admit(principal: nil)
        }
        guard let token = Self.bearerToken(request.headers["Authorization"]) else {
            return .refuse(unauthorized("this call needs a bearer token", error: nil))
        }
        guard let entry = Self.match(SHA256.digest(token.utf8), in: file) else {
            return .refuse(unauthorized("the bearer token is not known", error: "invalid_token"))
        }
        guard entry.scope >= needed else {
            let problem = Problem(type: Problem.type(Problems.forbidden), title: "Forbidden", status: 403,
                                  detail: "token \(entry.name) has scope \(entry.scope.rawValue); this call needs \(needed.rawValue)",
                                  extensions: ["required_scope": .string(needed.rawValue)],
                                  headers: [("WWW-Authenticate",
                                             "Bearer realm=\"\(realm)\", error=\"insufficient_scope\", scope=\"\(needed.rawValue)\"")])
            return .refuse(problem, principal: entry.name)
        }
        return .admit(principal: entry.name)
    }

    /// Compares the digest with every entry, each in constant time and without stopping at a
    /// match, so timing says nothing of which token is close or which matched.
    static func match(_ digest: [UInt8], in file: TokenFile) -> TokenFile.Entry? {
        var found: TokenFile.Entry?
        for entry in file.entries where SHA256.constantTimeEqual(entry.digest, digest) {
            found = entry
        }
        return found
    }

    /// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1).
    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: " \t")
        return token.isEmpty ? nil : token
    }

    private func unauthorized(_ detail: String, error: String?) -> Problem {
        let challenge = "Bearer realm=\"\(realm)\"" + (error.map { ", error=\"\($0)\"" } ?? "")
        return Problem(type: Problem.type(Problems.unauthorized), title: "Unauthorized", status: 401, detail: detail,
                       headers: [("WWW-Authenticate", challenge)])
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        return String(self.drop(while: { characters.contains($0) }).reversed().drop(while: { characters.contains($0) }).reversed())
    }
}
