import FoundationEssentials

/// An RFC 9457 problem document (`application/problem+json`). `type` is a stable URI per
/// kind of error; clients switch on it, not on `title` or `detail`.
public struct Problem: Error, Sendable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    /// Extension members (RFC 9457 §3.2), e.g. `errors` or `state`.
    public var extensions: [String: JSONValue]
    /// Extra response headers, e.g. `Allow` or `Retry-After`.
    public var headers: [(String, String)]

    public init(type: String, title: String, status: Int, detail: String? = nil,
                extensions: [String: JSONValue] = [:], headers: [(String, String)] = []) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.extensions = extensions
        self.headers = headers
    }

    /// The problem types the server itself raises, under `ProblemType.base`.
    public enum Kind: String, Sendable, CaseIterable {
        case notFound = "not-found"
        case methodNotAllowed = "method-not-allowed"
        case payloadTooLarge = "payload-too-large"
        case uriTooLong = "uri-too-long"
        case headersTooLarge = "request-header-fields-too-large"
        case badRequest = "bad-request"
        case internalError = "internal-error"
        case shuttingDown = "shutting-down"
        case clientCertificateRequired = "client-certificate-required"
    }

    /// The base of every problem type URI of this service.
    public static let typeBase = "https://virthost.dev/problems/"

    public static func type(_ name: String) -> String { typeBase + name }

    public static func notFound(_ detail: String) -> Problem {
        Problem(type: type(Kind.notFound.rawValue), title: "Not Found", status: 404, detail: detail)
    }

    public static func badRequest(_ detail: String, parameter: String? = nil) -> Problem {
        var problem = Problem(type: type(Kind.badRequest.rawValue), title: "Bad Request", status: 400, detail: detail)
        if let parameter { problem.extensions["parameter"] = .string(parameter) }
        return problem
    }

    public static func internalError(_ detail: String) -> Problem {
        Problem(type: type(Kind.internalError.rawValue), title: "Internal Server Error", status: 500, detail: detail)
    }

    /// The document as JSON bytes: RFC 9457 members first, then extensions.
    public func encoded(instance: String?, requestID: String) -> [UInt8] {
        var members: [String: JSONValue] = extensions
        members["type"] = .string(type)
        members["title"] = .string(title)
        members["status"] = .int(status)
        if let detail { members["detail"] = .string(detail) }
        if let instance { members["instance"] = .string(instance) }
        members["request_id"] = .string(requestID)
        return JSONValue.object(members).encoded()
    }
}

/// Errors that know their problem document. Handlers may throw them.
public protocol ProblemConvertible: Error {
    var problem: Problem { get }
}

extension Problem: ProblemConvertible {
    public var problem: Problem { self }
}
