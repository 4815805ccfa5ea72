import HTTPServer
import Logging

/// Runs a handler under the request's `Idempotency-Key`, when it has one.
struct IdempotentRequest {
    static let header = "Idempotency-Key"
    static let reusedProblem = "idempotency-key-reused"

    let store: IdempotencyStore
    let logger: Logger

    /// The request's key, checked; nil when it has none. A route that takes a key on only some
    /// of its paths checks it on all of them, so a malformed key is a 400 whichever is taken.
    static func key(of request: Request) throws -> String? {
        guard let key = request.headers[header] else { return nil }
        // Printable ASCII, as a key a client would make (a UUID, say).
        guard !key.isEmpty, key.utf8.count <= 255, key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw Problem.badRequest("\(header) must be 1 to 255 printable ASCII characters", parameter: header)
        }
        return key
    }

    func run(_ request: Request, _ handler: () async throws -> Response) async throws -> Response {
        guard let key = try Self.key(of: request) else { return try await handler() }
        let storeKey = IdempotencyStore.Key(principal: request.principal ?? "", key: key)
        switch await store.claim(storeKey, digest: SHA256.digest(request.body)) {
        case .replay(var response):
            response.headers.add("Idempotent-Replayed", "true")
            response.annotations["idempotent_replay"] = "true"
            return response
        case .conflict:
            throw Problem(type: Problem.type(Self.reusedProblem), title: "Idempotency Key Reused", status: 422,
                          detail: "this \(Self.header) was used with another request body",
                          extensions: ["parameter": .string(Self.header)])
        case .run:
            let response: Response
            do {
                response = try await handler()
            } catch {
                // Kept for retries as answered, so it is made here, by the one responder.
                response = Responder.response(for: error, to: request, logger: logger)
            }
            await store.finish(storeKey, response: response)
            return response
        }
    }
}
