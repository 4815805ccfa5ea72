import CMicroHTTPD
import Locking

/// One request on its way through the server, from headers to completion. libmicrohttpd
/// keeps it in the connection's `con_cls` slot; the handler task reaches it to post the answer.
final class Exchange: Sendable {
    let connection: ConnectionHandle
    let method: String
    let path: String
    let query: [(name: String, value: String)]
    let headers: HTTPHeaders
    let id: String
    let started: ContinuousClock.Instant
    let clientCertificate: ClientCertificate
    /// The raw request target held `%00` (see `HTTPServer.encodedNULMark`).
    let encodedNUL: Bool

    struct State {
        var body: [UInt8] = []
        var tooLarge = false
        var dispatched = false
        var response: Response?
        var status = 0
        /// The matched route's pattern; nil when no route matched.
        var route: String?
        var pathParameters: [String: String] = [:]
        /// Who sent it, as admission said.
        var principal: String?
        var annotations: [String: String] = [:]
        var sink: StreamSink?
        /// The matched route; nil when none did.
        var matched: Router.Route?
        /// The largest body taken (the route's limit, else the server's).
        var bodyLimit = Int.max
        /// The origin to answer with CORS headers, when it is an allowed other origin.
        var corsOrigin: String?
        /// The body as it arrives, for a route that streams it (its handler runs already).
        var bodyChannel: BodyChannel?
        /// The request is read and the connection suspended until the answer is posted.
        var awaitingResponse = false
        /// The retained ``UpgradeContext`` of a 101 not yet handed over (its address); released
        /// at completion when libmicrohttpd never called the upgrade handler (the client left).
        var pendingUpgrade: UInt?
    }
    let state = Mutex(State())

    init(connection: ConnectionHandle, method: String, path: String, query: [(name: String, value: String)],
         headers: HTTPHeaders, clientCertificate: ClientCertificate, encodedNUL: Bool = false) {
        self.encodedNUL = encodedNUL
        self.connection = connection
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.id = RequestID.accept(headers["X-Request-Id"]) ?? RequestID.make()
        self.started = .now
        self.clientCertificate = clientCertificate
    }

    /// The request as far as it is known before its body: what admission decides on.
    var head: Request {
        var request = Request(method: method, path: path, query: query, headers: headers, id: id)
        request.clientCertificate = clientCertificate
        state.withLock {
            request.principal = $0.principal
            request.route = $0.matched?.pattern
            request.routeOptions = $0.matched?.options
            request.pathParameters = $0.pathParameters
        }
        return request
    }

    /// Posts the answer. Returns true when the connection is suspended waiting for it, in
    /// which case the caller must resume it; false when it is not (yet) waiting, or an answer
    /// was posted already (shutdown answered first).
    func post(_ response: Response) -> Bool {
        state.withLock { state in
            guard state.response == nil else { return false }
            state.response = response
            defer { state.awaitingResponse = false }
            return state.awaitingResponse
        }
    }

    /// On libmicrohttpd's thread, once the request is read: the posted answer if there is one;
    /// otherwise suspends the connection (inside the lock, so that a post that sees it waiting
    /// resumes a suspended connection) and returns nil.
    func awaitResponse(suspending: () -> Void) -> Response? {
        state.withLock { state in
            state.dispatched = true
            if let response = state.response { return response }
            state.awaitingResponse = true
            suspending()
            return nil
        }
    }
}

/// What the server tells ``HTTPServer/Configuration/onCompletion`` of each finished request.
public struct CompletedRequest: Sendable {
    public let method: String
    /// The decoded path, as requested.
    public let path: String
    /// The route pattern (`/v1/domains/{ref}`), never the raw path, so labels stay few;
    /// nil when no route matched.
    public let route: String?
    public let pathParameters: [String: String]
    public let status: Int
    /// Whether the answer was a streamed body (server-sent events): its duration is the
    /// stream's life, not a request's latency.
    public let streamed: Bool
    public let duration: Duration
    public let requestID: String
    /// Who sent it, as admission said; nil when anonymous.
    public let principal: String?
    /// The response's ``Response/annotations``.
    public let annotations: [String: String]
}
