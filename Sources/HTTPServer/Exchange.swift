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

    struct State {
        var body: [UInt8] = []
        var tooLarge = false
        var dispatched = false
        var response: Response?
        var status = 0
        /// The matched route's pattern; nil when no route matched.
        var route: String?
        var sink: StreamSink?
    }
    let state = Mutex(State())

    init(connection: ConnectionHandle, method: String, path: String, query: [(name: String, value: String)],
         headers: HTTPHeaders) {
        self.connection = connection
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.id = RequestID.accept(headers["X-Request-Id"]) ?? RequestID.make()
        self.started = .now
    }

    /// Posts the answer for a suspended exchange. Returns false when one was posted already
    /// (shutdown answered it first), in which case the caller must not resume.
    func post(_ response: Response) -> Bool {
        state.withLock { state in
            guard state.response == nil else { return false }
            state.response = response
            return true
        }
    }
}

/// What the server tells ``HTTPServer/Configuration/onCompletion`` of each finished request.
public struct CompletedRequest: Sendable {
    public let method: String
    /// The route pattern (`/v1/domains/{ref}`), never the raw path, so labels stay few;
    /// nil when no route matched.
    public let route: String?
    public let status: Int
    public let duration: Duration
}
