import Logging

/// The one place an error becomes an answer: a problem document whose `request_id` is the
/// request's `X-Request-Id`. What is not a known problem (``ProblemConvertible``) is logged
/// with the request id and answered 500 without its details.
public enum Responder {
    public static func problem(for error: any Error, to request: Request, logger: Logger) -> Problem {
        if let known = error as? ProblemConvertible { return known.problem }
        logger.error("handler failed", metadata: ["method": "\(request.method)", "path": "\(request.path)",
                                                  "error": "\(error)", "request_id": "\(request.id)"])
        return .internalError("the request failed unexpectedly")
    }

    public static func response(for error: any Error, to request: Request, logger: Logger) -> Response {
        .problem(problem(for: error, to: request, logger: logger), instance: request.path, requestID: request.id)
    }
}
