import HTTPServer
import Logging

/// One structured line for every request that may change something (any method but GET and
/// HEAD): who, what, which domain, the outcome and the request id. It has its own logger, so
/// it stays on at info whatever the service's log level, and apart from debug output.
public struct AuditLog: Sendable {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    @Sendable public func record(_ request: CompletedRequest) {
        guard request.method != "GET", request.method != "HEAD" else { return }
        var metadata: Logger.Metadata = [
            "principal": "\(request.principal ?? "anonymous")",
            "method": "\(request.method)",
            "path": "\(request.path)",
            "status": "\(request.status)",
            "outcome": "\(Self.outcome(request.status))",
            "request_id": "\(request.requestID)",
        ]
        if let domain = request.annotations["domain"] ?? request.pathParameters["ref"] {
            metadata["domain"] = "\(domain)"
        }
        if request.annotations["idempotent_replay"] != nil { metadata["idempotent_replay"] = "true" }
        logger.info("audit", metadata: metadata)
    }

    static func outcome(_ status: Int) -> String {
        switch status {
        case 200..<400: "success"
        case 401, 403: "denied"
        case 400..<500: "rejected"
        default: "failed"
        }
    }
}

extension AuditLog {
    /// A console session's start or end (`event` is `console_session_start` or
    /// `console_session_end`): a session outlives its request, so its end has a line of its own.
    /// `via` says how it was authorised (`bearer`, `ticket`, or `none` without tokens).
    public func consoleSession(_ event: String, kind: String, domain: String, principal: String?, via: String,
                               requestID: String) {
        logger.info("audit", metadata: [
            "event": "\(event)",
            "principal": "\(principal ?? "anonymous")",
            "console": "\(kind)",
            "domain": "\(domain)",
            "authorised_by": "\(via)",
            "request_id": "\(requestID)",
        ])
    }
}
