import CMicroHTTPD
import FoundationEssentials
import Locking
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 server on libmicrohttpd: one internal poll thread that never waits.
///
/// A request whose handler awaits is suspended while the handler runs on Swift's
/// concurrency pool and resumed when its answer is ready, so one slow request never holds
/// up another. Streamed bodies work the same way: the connection sleeps until the producer
/// writes. The server knows nothing of what the handlers do.
public final class HTTPServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port; ``HTTPServer/start()`` returns the one bound.
        public var port: UInt16
        /// libmicrohttpd threads (1 = one internal poll thread; more = a thread pool).
        public var threads: Int
        public var connectionLimit: Int
        /// 0 = no limit per client address.
        public var perIPConnectionLimit: Int
        /// Idle seconds before a connection is closed (libmicrohttpd's default, 0, is never).
        public var connectionTimeout: Int
        /// Larger request bodies get 413.
        public var maxBodySize: Int
        /// libmicrohttpd's per-connection memory, which bounds the request header size (16 KiB
        /// takes about 14 KiB of headers). Half of it is touched by every open connection (the
        /// read buffer is zeroed when it shrinks), so it is what each idle event stream costs.
        public var connectionMemoryLimit: Int
        /// The largest request line plus header fields the server takes: beyond it, 414 (the
        /// URL alone) or 431, as problem+json. Nil is half of ``connectionMemoryLimit``:
        /// libmicrohttpd needs the room beyond it to read such a request whole and let the
        /// server answer; a head larger than the whole memory limit still gets libmicrohttpd's
        /// own page, which cannot be replaced in 0.9.75.
        public var maxHeaderSize: Int?
        /// Bytes a streamed body may be ahead of its client before the producer waits.
        public var streamHighWater: Int
        /// Bytes of a streamed request body that may wait for its handler before the connection
        /// is suspended; the handler gets the body in pieces of a quarter of this.
        public var bodyHighWater: Int
        /// How long shutdown waits for in-flight requests before answering them 503.
        public var shutdownGracePeriod: Duration
        /// Told of every completed request (for metrics); runs on libmicrohttpd's thread, so
        /// it must not block.
        public var onCompletion: (@Sendable (CompletedRequest) -> Void)?
        /// HTTPS (and mutual TLS) when set; plain HTTP otherwise.
        public var tls: TLSConfiguration?
        /// Decides on each request's head (method, path, query, headers, client certificate)
        /// before its body is read; runs on libmicrohttpd's thread, so it must not block.
        public var admission: (@Sendable (Request) -> Admission)?
        /// The `Host`, `Origin` and CORS rules that keep web pages out (see ``BrowserSafety``).
        /// On by default: a service on loopback is reachable from every page the operator opens.
        public var browserSafety = BrowserSafety()

        public init(host: String = "127.0.0.1", port: UInt16 = 8080, threads: Int = 1,
                    connectionLimit: Int = 4096, perIPConnectionLimit: Int = 0, connectionTimeout: Int = 30,
                    maxBodySize: Int = 1 << 20, connectionMemoryLimit: Int = 16 * 1024,
                    streamHighWater: Int = 256 * 1024, bodyHighWater: Int = 4 << 20,
                    shutdownGracePeriod: Duration = .seconds(10)) {
            self.host = host
            self.port = port
            self.threads = threads
            self.connectionLimit = connectionLimit
            self.perIPConnectionLimit = perIPConnectionLimit
            self.connectionTimeout = connectionTimeout
            self.maxBodySize = maxBodySize
            self.connectionMemoryLimit = connectionMemoryLimit
            self.streamHighWater = streamHighWater
            self.bodyHighWater = bodyHighWater
            self.shutdownGracePeriod = shutdownGracePeriod
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public let configuration: Configuration
    let router: Router
    let logger: Logger

    private struct State {
        /// The `MHD_Daemon` pointer's address (0 when stopped); kept as a number so the
        /// state stays `Sendable`.
        var daemon: UInt = 0
        var listenDescriptor: Int32 = -1
        var boundPort: UInt16 = 0
        var shuttingDown = false
        /// Connections suspended now: shutdown must not stop the daemon until this is 0.
        var suspended = 0
        /// Exchanges that have been dispatched and not completed, by identity.
        var inFlight: [ObjectIdentifier: Exchange] = [:]
        var streams: [ObjectIdentifier: StreamSink] = [:]
        /// Connections switched to another protocol, whose handlers still run.
        var upgraded: [ObjectIdentifier: UpgradedConnection] = [:]
    }
    private let state = Mutex(State())
    /// Signalled whenever in-flight, suspended or upgraded connections change: what shutdown waits on.
    private let changes = ChangeSignal()

    public init(configuration: Configuration, router: Router, logger: Logger) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
    }

    /// The port bound by ``start()``.
    public var port: UInt16 { state.withLock { $0.boundPort } }

    // MARK: Start

    /// Binds, starts libmicrohttpd and returns the port it listens on.
    @discardableResult
    public func start() throws -> UInt16 {
        let socket = try ListenSocket(host: configuration.host, port: configuration.port)
        // libmicrohttpd's own errors go to stderr (its external logger takes a va_list, which the
        // Swift 6.3 compiler crashes on when deserialising).
        // poll(2), not epoll: libmicrohttpd 0.9.75's edge-triggered epoll takes a short read as
        // "drained" and stops reading, so a client that sent the last bytes of a body and closed
        // at once went unnoticed until the connection timeout (a cut-off upload held its staging
        // volume for 30 s, one time in six). poll is level-triggered: the close is seen at once.
        var flags: UInt32 = Flag.errorLog | Flag.internalPollingThread | Flag.poll | Flag.allowSuspendResume
        if router.routes.contains(where: { $0.options.upgrade }) { flags |= Flag.allowUpgrade }
        // The daemon holds the server for its lifetime; shutdown releases it.
        let context = Unmanaged.passRetained(self).toOpaque()
        var options: [CVarArg] = [
            Option.listenSocket, socket.descriptor,
            Option.connectionLimit, UInt32(configuration.connectionLimit),
            Option.perIPConnectionLimit, UInt32(configuration.perIPConnectionLimit),
            Option.connectionTimeout, UInt32(configuration.connectionTimeout),
            Option.connectionMemoryLimit, Int(configuration.connectionMemoryLimit),
            Option.notifyCompleted, unsafeBitCast(HTTPServer.completed, to: OpaquePointer.self), OpaquePointer(context),
            Option.uriLogCallback, unsafeBitCast(HTTPServer.rawURI, to: OpaquePointer.self), OpaquePointer(context),
        ]
        if configuration.threads > 1 {
            options += [Option.threadPoolSize, UInt32(configuration.threads)]
        }
        // libmicrohttpd reads the PEM strings while it starts (GnuTLS copies them), so they
        // live until it has.
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func cString(_ text: String) -> UnsafeMutablePointer<CChar> {
            let copy = strdup(text)!
            strings.append(copy)
            return copy
        }
        if let tls = configuration.tls {
            guard MHD_is_feature_supported(MHD_FEATURE.FEATURE_TLS) == .YES else {
                close(socket.descriptor)
                Unmanaged<HTTPServer>.fromOpaque(context).release()
                throw StartError(description: "this libmicrohttpd was built without TLS")
            }
            flags |= Flag.tls
            options += [Option.httpsMemoryKey, cString(tls.privateKeyPEM),
                        Option.httpsMemoryCertificate, cString(tls.certificatePEM),
                        Option.httpsPriorities, cString(tls.priorities)]
            if let clientCA = tls.clientCAPEM { options += [Option.httpsMemoryTrust, cString(clientCA)] }
        }
        options.append(Option.end)
        let daemon = withVaList(options) { arguments in
            MHD_start_daemon_va(flags, 0, nil, nil, HTTPServer.access, context, arguments)
        }
        guard let daemon else {
            Unmanaged<HTTPServer>.fromOpaque(context).release()
            close(socket.descriptor)
            let reason = configuration.tls == nil ? "" : " (check the TLS certificate, key and priorities)"
            throw StartError(description: "libmicrohttpd did not start on \(configuration.host):\(socket.port)\(reason)")
        }
        state.withLock {
            $0.daemon = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(daemon)))
            $0.listenDescriptor = socket.descriptor
            $0.boundPort = socket.port
        }
        return socket.port
    }

    // MARK: Shutdown

    /// Stops accepting, ends streams, lets in-flight requests finish (for at most the grace
    /// period, after which they are answered 503), then stops libmicrohttpd.
    public func shutdown() async {
        let address = state.withLock { state -> UInt in
            guard !state.shuttingDown else { return 0 }
            state.shuttingDown = true
            return state.daemon
        }
        guard let daemon = OpaquePointer(bitPattern: address) else { return }
        // The listening socket is ours to close, but only after MHD_stop_daemon: libmicrohttpd's
        // threads may still use it until then (microhttpd.h). Closed at once, its number was
        // reused by another socket of the process that libmicrohttpd then acted on, and an
        // unrelated connection failed with EBADF. Shut down at once, so that new clients are
        // refused rather than left in the backlog.
        let listen = MHD_quiesce_daemon(daemon)
        if listen >= 0 { _ = Glibc.shutdown(listen, Int32(SHUT_RD)) }
        for sink in state.withLock({ Array($0.streams.values) }) { sink.close(); sink.finish() }
        for connection in state.withLock({ Array($0.upgraded.values) }) { connection.shutdown() }

        // In flight: dispatched and not yet completed, which includes a response still being
        // sent after its handler resumed the connection.
        await changes.wait(until: .now + configuration.shutdownGracePeriod) { [self] in
            state.withLock { $0.inFlight.isEmpty }
        }
        // Answer whatever is still running, so no connection stays suspended.
        for exchange in state.withLock({ Array($0.inFlight.values) }) {
            // A body held back for a slow consumer is let in (and dropped), so its request ends.
            exchange.state.withLock { $0.bodyChannel }?.abandon()
            let problem = Problem(type: Problem.type(Problem.Kind.shuttingDown.rawValue), title: "Service Unavailable",
                                  status: 503, detail: "the server is shutting down")
            if exchange.post(.problem(problem, instance: exchange.path, requestID: exchange.id)) {
                resume(exchange.connection)
            }
        }
        // A suspended connection must be resumed before the daemon stops, however long that
        // takes; answers still being sent get two seconds.
        await changes.wait(until: .now + .seconds(2)) { [self] in
            state.withLock { $0.suspended == 0 && $0.inFlight.isEmpty }
        }
        while state.withLock({ $0.suspended > 0 }) {
            await changes.wait(until: .now + .seconds(60)) { [self] in state.withLock { $0.suspended == 0 } }
        }
        await changes.wait(until: .now + .seconds(2)) { [self] in
            state.withLock { $0.upgraded.isEmpty }
        }
        MHD_stop_daemon(daemon)
        if listen >= 0 { close(listen) }
        state.withLock { $0.daemon = 0 }
        Unmanaged.passUnretained(self).release()
        logger.info("HTTP server stopped")
    }

    // MARK: Upgraded connections

    /// Runs an upgraded connection's handler; the connection is closed when it returns, and
    /// shutdown waits for it (after waking its reads), since libmicrohttpd must not stop with
    /// an upgraded connection open.
    func adopt(_ connection: UpgradedConnection, running handler: @escaping UpgradeHandler) {
        let accepted = state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            state.upgraded[ObjectIdentifier(connection)] = connection
            return true
        }
        guard accepted else { connection.close(); return }
        Task { [self] in
            await handler(connection)
            connection.close()
            state.withLock { $0.upgraded[ObjectIdentifier(connection)] = nil }
            changes.signal()
        }
    }

    // MARK: Suspension bookkeeping

    func suspend(_ connection: ConnectionHandle) {
        state.withLock { $0.suspended += 1 }
        connection.suspend()
    }

    func resume(_ connection: ConnectionHandle) {
        state.withLock { $0.suspended -= 1 }
        changes.signal()
        connection.resume()
    }

    // MARK: Requests (on libmicrohttpd's thread)

    private func begin(connection: OpaquePointer, method: String, path: String, encodedNUL: Bool) -> Exchange {
        let collector = ValueCollector()
        let box = Unmanaged.passUnretained(collector).toOpaque()
        MHD_get_connection_values(connection, MHD_ValueKind.HEADER_KIND, ValueCollector.iterator, box)
        let headers = HTTPHeaders(collector.values)
        collector.values.removeAll()
        MHD_get_connection_values(connection, MHD_ValueKind.GET_ARGUMENT_KIND, ValueCollector.iterator, box)
        return Exchange(connection: ConnectionHandle(pointer: connection), method: method, path: path,
                        query: collector.values, headers: headers, clientCertificate: clientCertificate(connection),
                        encodedNUL: encodedNUL)
    }

    private func clientCertificate(_ connection: OpaquePointer) -> ClientCertificate {
        guard configuration.tls?.clientCAPEM != nil else { return .notRequested }
        var subject = [CChar](repeating: 0, count: 1024)
        let result = virthost_verify_client_certificate(connection, &subject, subject.count)
        switch UInt32(result) {
        case VIRTHOST_CLIENT_CERTIFICATE_VERIFIED.rawValue:
            return .verified(subject: String(decoding: subject.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        case VIRTHOST_CLIENT_CERTIFICATE_ABSENT.rawValue: return .absent
        default: return .untrusted
        }
    }

    /// Everything decided on the request's head, before its body is read, in this order:
    /// browser safety (`Host`, then `Origin`), the route, a CORS preflight, mutual TLS and
    /// admission, then the method, the content type and the declared body size. Nil lets
    /// the body be read; otherwise the answer to send at once.
    private func screen(_ exchange: Exchange) -> Response? {
        let safety = configuration.browserSafety
        let refuse = { (problem: Problem) -> Response in
            .problem(problem, instance: exchange.path, requestID: exchange.id)
        }
        if let tooLarge = headTooLarge(exchange) { return refuse(tooLarge) }
        if exchange.encodedNUL {
            return refuse(.badRequest("the request target holds %00: a NUL is never part of a path or a query value"))
        }
        if !safety.allows(host: exchange.headers["Host"], listeningOn: configuration.host) {
            return refuse(Problem(type: Problem.type(BrowserSafety.Problems.hostNotAllowed), title: "Misdirected Request",
                                  status: 421,
                                  detail: "this server does not answer for host \(exchange.headers["Host"] ?? "")",
                                  extensions: ["host": .string(exchange.headers["Host"] ?? "")]))
        }
        switch safety.judge(origin: exchange.headers["Origin"], host: exchange.headers["Host"],
                            tls: configuration.tls != nil) {
        case .absent, .sameOrigin: break
        case .allowed(let origin): exchange.state.withLock { $0.corsOrigin = origin }
        case .refused(let origin):
            return refuse(Problem(type: Problem.type(BrowserSafety.Problems.originNotAllowed), title: "Forbidden",
                                  status: 403, detail: "requests from origin \(origin) are not allowed",
                                  extensions: ["origin": .string(origin)]))
        }

        let match = router.match(method: exchange.method, path: exchange.path)
        switch match {
        case .found(let route, let parameters):
            exchange.state.withLock {
                $0.route = route.pattern
                $0.matched = route
                $0.pathParameters = parameters
                $0.bodyLimit = route.options.bodyLimit ?? configuration.maxBodySize
            }
        case .methodNotAllowed(_, let pattern):
            exchange.state.withLock { $0.route = pattern; $0.bodyLimit = configuration.maxBodySize }
        case .notFound:
            exchange.state.withLock { $0.bodyLimit = configuration.maxBodySize }
        }
        // A CORS preflight carries no credentials: it is answered for an allowed origin on
        // what the path takes, and the real request is then checked like any other.
        let allowed = router.allowedMethods(path: exchange.path)
        if exchange.method == "OPTIONS", case .methodNotAllowed = match,
           exchange.state.withLock({ $0.corsOrigin }) != nil,
           exchange.headers["Access-Control-Request-Method"] != nil {
            return Response(status: 204, headers: HTTPHeaders([
                ("Allow", allowed.joined(separator: ", ")),
                ("Access-Control-Allow-Methods", allowed.joined(separator: ", ")),
                ("Access-Control-Allow-Headers", BrowserSafety.corsAllowedHeaders),
                ("Access-Control-Max-Age", BrowserSafety.corsMaxAge),
            ]))
        }

        if let refusal = admit(exchange) { return refusal }

        switch match {
        case .notFound:
            return refuse(.notFound("no resource at \(exchange.path)"))
        case .methodNotAllowed(let allowed, _):
            if exchange.method == "OPTIONS" {
                return Response(status: 204, headers: HTTPHeaders([("Allow", allowed.joined(separator: ", "))]))
            }
            return refuse(Problem(type: Problem.type(Problem.Kind.methodNotAllowed.rawValue),
                                  title: "Method Not Allowed", status: 405,
                                  detail: "\(exchange.method) is not allowed on \(exchange.path)",
                                  extensions: ["allowed": .array(allowed.map(JSONValue.string))],
                                  headers: [("Allow", allowed.joined(separator: ", "))]))
        case .found(let route, _):
            if !route.options.accepts(contentType: exchange.headers["Content-Type"]) {
                let accepted = route.options.bodyContentTypes
                let sent = exchange.headers["Content-Type"]
                return refuse(Problem(type: Problem.type(BrowserSafety.Problems.unsupportedMediaType),
                                      title: "Unsupported Media Type", status: 415,
                                      detail: sent.map { "the body is \($0); this call takes \(accepted.joined(separator: " or "))" }
                                          ?? "the request has no Content-Type; this call takes \(accepted.joined(separator: " or "))",
                                      extensions: ["accepted": .array(accepted.map(JSONValue.string))],
                                      headers: [("Accept-Post", accepted.joined(separator: ", "))]))
            }
            let limit = exchange.state.withLock { $0.bodyLimit }
            if let declared = exchange.headers["Content-Length"].flatMap(Int.init), declared > limit {
                return tooLarge(exchange, limit: limit)
            }
        }
        return nil
    }

    /// 414 or 431 when the request line and headers exceed ``Configuration/maxHeaderSize``
    /// (counted as sent: `name: value` and CRLF per field).
    private func headTooLarge(_ exchange: Exchange) -> Problem? {
        let limit = configuration.maxHeaderSize ?? configuration.connectionMemoryLimit / 2
        let target = exchange.path.utf8.count
            + exchange.query.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 2 }
        let fields = exchange.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
        let line = exchange.method.utf8.count + target + 11
        guard line + fields > limit else { return nil }
        if line > limit {
            return Problem(type: Problem.type(Problem.Kind.uriTooLong.rawValue), title: "URI Too Long", status: 414,
                           detail: "the request target is \(target) bytes; the request line and headers may take \(limit)",
                           extensions: ["limit_bytes": .int(limit)], headers: [("Connection", "close")])
        }
        return Problem(type: Problem.type(Problem.Kind.headersTooLarge.rawValue),
                       title: "Request Header Fields Too Large", status: 431,
                       detail: "the request line and headers are \(line + fields) bytes; at most \(limit) are taken",
                       extensions: ["limit_bytes": .int(limit)], headers: [("Connection", "close")])
    }

    private func tooLarge(_ exchange: Exchange, limit: Int) -> Response {
        let problem = Problem(type: Problem.type(Problem.Kind.payloadTooLarge.rawValue), title: "Content Too Large",
                              status: 413, detail: "the request body exceeds \(limit) bytes",
                              extensions: ["limit_bytes": .int(limit)], headers: [("Connection", "close")])
        return .problem(problem, instance: exchange.path, requestID: exchange.id)
    }

    /// Mutual TLS first (the server's own rule), then the configured admission. Nil admits.
    private func admit(_ exchange: Exchange) -> Response? {
        if let tls = configuration.tls, tls.clientCAPEM != nil,
           !tls.clientCertificateOptionalPaths.contains(exchange.path) {
            let detail: String? = switch exchange.clientCertificate {
            case .verified: nil
            case .absent, .notRequested: "this server requires a client certificate"
            case .untrusted: "the client certificate did not verify against the trusted CA"
            }
            if let detail {
                let problem = Problem(type: Problem.type(Problem.Kind.clientCertificateRequired.rawValue),
                                      title: "Client Certificate Required", status: 403, detail: detail)
                return .problem(problem, instance: exchange.path, requestID: exchange.id)
            }
        }
        guard let admission = configuration.admission else {
            if case .verified(let subject) = exchange.clientCertificate {
                exchange.state.withLock { $0.principal = subject }
            }
            return nil
        }
        switch admission(exchange.head) {
        case .admit(let principal):
            exchange.state.withLock { $0.principal = principal }
            return nil
        case .refuse(let problem, let principal):
            exchange.state.withLock { $0.principal = principal }
            return .problem(problem, instance: exchange.path, requestID: exchange.id)
        }
    }

    private func receive(_ exchange: Exchange, data: UnsafePointer<CChar>, count: Int) {
        if let channel = exchange.state.withLock({ $0.bodyChannel }) {
            data.withMemoryRebound(to: UInt8.self, capacity: count) {
                channel.push(UnsafeBufferPointer(start: $0, count: count))
            }
            return
        }
        exchange.state.withLock { state in
            if state.tooLarge { return }
            if state.body.count + count > state.bodyLimit {
                state.tooLarge = true
                state.body = []
                return
            }
            data.withMemoryRebound(to: UInt8.self, capacity: count) {
                state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
            }
        }
    }

    /// A route that streams its body: its handler starts on the head, and reads the body as
    /// libmicrohttpd delivers it.
    private func startStreaming(_ exchange: Exchange, route: Router.Route) {
        let limit = exchange.state.withLock { $0.bodyLimit }
        let channel = BodyChannel(connection: exchange.connection, limit: limit,
                                  highWater: configuration.bodyHighWater) { [self] change in
            state.withLock { $0.suspended += change }
            changes.signal()
        }
        var request = exchange.head
        request.bodyStream = RequestBodyStream(channel: channel)
        exchange.state.withLock { $0.bodyChannel = channel }
        state.withLock { $0.inFlight[ObjectIdentifier(exchange)] = exchange }
        let handler = route.handler
        Task { [self, request] in
            let response = await respond(to: request, handler)
            channel.abandon()
            if exchange.post(response) { resume(exchange.connection) }
        }
    }

    /// The request is read: answer at once (a refusal made on the head), or suspend and run
    /// the handler (or, for a streamed body, wait for the one that runs).
    private func dispatch(_ exchange: Exchange, connection: OpaquePointer) -> MHD_Result {
        if let channel = exchange.state.withLock({ $0.bodyChannel }) {
            channel.finish()
            if let ready = exchange.awaitResponse(suspending: { suspend(exchange.connection) }) {
                return queue(ready, for: exchange, on: connection)
            }
            return .YES
        }
        let (ready, body, tooLarge, route, limit) = exchange.state.withLock {
            state -> (Response?, [UInt8], Bool, Router.Route?, Int) in
            if let response = state.response { return (response, [], false, nil, 0) }
            return (nil, state.body, state.tooLarge, state.matched, state.bodyLimit)
        }
        if let ready {
            exchange.state.withLock { $0.dispatched = true }
            return queue(ready, for: exchange, on: connection)
        }
        if tooLarge {
            exchange.state.withLock { $0.dispatched = true }
            return queue(self.tooLarge(exchange, limit: limit), for: exchange, on: connection)
        }
        // screen() answered every request without a route.
        guard let route else {
            exchange.state.withLock { $0.dispatched = true }
            return queue(.problem(.internalError("no route"), instance: exchange.path, requestID: exchange.id),
                         for: exchange, on: connection)
        }
        var request = exchange.head
        request.body = body
        let handler = route.handler

        state.withLock { $0.inFlight[ObjectIdentifier(exchange)] = exchange }
        // Nothing can post before the handler's task exists: the connection is suspended here.
        _ = exchange.awaitResponse(suspending: { suspend(exchange.connection) })
        Task { [self, request] in
            let response = await respond(to: request, handler)
            if exchange.post(response) { resume(exchange.connection) }
        }
        return .YES
    }

    /// Runs a handler and turns whatever it throws into a problem document, logging what is
    /// not a known problem: the one place errors become answers.
    func respond(to request: Request, _ handler: Router.Handler) async -> Response {
        do {
            return try await handler(request)
        } catch {
            return Responder.response(for: error, to: request, logger: logger)
        }
    }

    private func queue(_ response: Response, for exchange: Exchange, on connection: OpaquePointer) -> MHD_Result {
        var response = response
        if let problem = response.deferredProblem {
            logger.error("response failed", metadata: ["path": "\(exchange.path)", "detail": "\(problem.detail ?? "")",
                                                       "request_id": "\(exchange.id)"])
            response = .problem(problem, instance: exchange.path, requestID: exchange.id)
        }
        if let document = response.problemDocument {
            response.body = .bytes(document.problem.encoded(instance: document.instance, requestID: exchange.id))
        }
        // HEAD gets GET's status and headers; a stream is not started for it, but the length it
        // would have is announced (RFC 9110 §9.3.2).
        var headLength: UInt64?
        if exchange.method == "HEAD", case .stream(let stream) = response.body {
            headLength = stream.contentLength
            response.body = .bytes([])
        }
        if let origin = exchange.state.withLock({ $0.corsOrigin }) {
            response.headers.set("Access-Control-Allow-Origin", origin)
            response.headers.set("Access-Control-Expose-Headers", BrowserSafety.corsExposedHeaders)
        }
        // With CORS on, answers differ by Origin: caches must know.
        if !configuration.browserSafety.allowedOrigins.isEmpty { response.headers.add("Vary", "Origin") }
        let handle: OpaquePointer?
        var sink: StreamSink?
        switch response.body {
        case .bytes(let bytes):
            if let headLength {
                // Sized like the body GET would send; libmicrohttpd never reads it for HEAD.
                handle = MHD_create_response_from_callback(headLength, 1024, HTTPServer.noBody, nil, nil)
            } else {
                handle = bytes.withUnsafeBytes { buffer in
                    MHD_create_response_from_buffer(buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress),
                                                    .RESPMEM_MUST_COPY)
                }
            }
        case .stream(let stream):
            let created = StreamSink(connection: ConnectionHandle(pointer: connection),
                                     highWater: stream.highWater ?? configuration.streamHighWater) { [self] change in
                state.withLock { $0.suspended += change }
            changes.signal()
            }
            sink = created
            // A chunked body is read straight into the connection's buffer: the response's own
            // block (zeroed, per stream) is never used, so it is kept small. A body of known
            // length is read through that block, so it is large enough for bulk transfers.
            handle = MHD_create_response_from_callback(stream.contentLength ?? UInt64.max,
                                                       stream.contentLength == nil ? 1024 : 256 * 1024,
                                                       HTTPServer.readStream,
                                                       Unmanaged.passRetained(created).toOpaque(),
                                                       HTTPServer.freeStream)
        case .upgrade(let handler):
            guard exchange.state.withLock({ $0.matched?.options.upgrade == true }) else {
                logger.error("a route not declared for upgrades answered with one", metadata: ["path": "\(exchange.path)"])
                return queue(.problem(.internalError("the route cannot switch protocols"), instance: exchange.path,
                                      requestID: exchange.id), for: exchange, on: connection)
            }
            // Released by the upgrade callback, which libmicrohttpd calls once the 101 is sent.
            let context = Unmanaged.passRetained(UpgradeContext(handler: handler, server: self)).toOpaque()
            handle = MHD_create_response_for_upgrade(HTTPServer.upgraded, context)
            if handle == nil {
                Unmanaged<UpgradeContext>.fromOpaque(context).release()
            } else {
                exchange.state.withLock { $0.pendingUpgrade = UInt(bitPattern: context) }
            }
        }
        guard let handle else { return .NO }
        defer { MHD_destroy_response(handle) }
        for (name, value) in response.headers { MHD_add_response_header(handle, name, value) }
        MHD_add_response_header(handle, "X-Request-Id", exchange.id)
        exchange.state.withLock {
            $0.status = response.status
            $0.sink = sink
            $0.annotations = response.annotations
        }
        let result = MHD_queue_response(connection, UInt32(response.status), handle)
        if let sink, case .stream(let stream) = response.body {
            let accepted = state.withLock { state -> Bool in
                guard !state.shuttingDown else { return false }
                state.streams[ObjectIdentifier(sink)] = sink
                return true
            }
            if accepted { sink.start(stream) } else { sink.finish() }
        }
        return result
    }

    private func complete(_ exchange: Exchange) {
        let sink = state.withLock { state -> StreamSink? in
            state.inFlight[ObjectIdentifier(exchange)] = nil
            let sink = exchange.state.withLock { $0.sink }
            if let sink { state.streams[ObjectIdentifier(sink)] = nil }
            return sink
        }
        changes.signal()
        sink?.close()
        exchange.state.withLock { $0.bodyChannel }?.connectionEnded()
        let unclaimed = exchange.state.withLock { state -> UInt? in defer { state.pendingUpgrade = nil }; return state.pendingUpgrade }
        if let unclaimed, let context = UnsafeMutableRawPointer(bitPattern: unclaimed) {
            Unmanaged<UpgradeContext>.fromOpaque(context).release()
        }
        let (status, route, principal, parameters, annotations) = exchange.state.withLock {
            ($0.status, $0.route, $0.principal, $0.pathParameters, $0.annotations)
        }
        let duration = ContinuousClock.now - exchange.started
        configuration.onCompletion?(CompletedRequest(method: exchange.method, path: exchange.path, route: route,
                                                     pathParameters: parameters, status: status, streamed: sink != nil,
                                                     duration: duration,
                                                     requestID: exchange.id, principal: principal,
                                                     annotations: annotations))
        if logger.logLevel <= .debug {
            logger.debug("request", metadata: [
                "method": "\(exchange.method)", "path": "\(exchange.path)", "status": "\(status)",
                "duration_ms": "\(duration.milliseconds)", "request_id": "\(exchange.id)",
            ])
        }
    }

    private func refuseDuringShutdown(_ exchange: Exchange, connection: OpaquePointer) -> MHD_Result {
        let problem = Problem(type: Problem.type(Problem.Kind.shuttingDown.rawValue), title: "Service Unavailable",
                              status: 503, detail: "the server is shutting down", headers: [("Connection", "close")])
        exchange.state.withLock { $0.dispatched = true }
        return queue(.problem(problem, instance: exchange.path, requestID: exchange.id), for: exchange, on: connection)
    }

    // MARK: C callbacks

    private static let access: MHD_AccessHandlerCallback = {
        context, connection, url, method, _, uploadData, uploadDataSize, slot in
        guard let context, let connection, let slot, let uploadDataSize else { return .NO }
        let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
        let encodedNUL = slot.pointee.map { UInt(bitPattern: $0) } == HTTPServer.encodedNULMark
        guard let existing = slot.pointee, !encodedNUL else {
            let exchange = server.begin(connection: connection, method: method.map { String(cString: $0) } ?? "GET",
                                        path: url.map { String(cString: $0) } ?? "/", encodedNUL: encodedNUL)
            slot.pointee = Unmanaged.passRetained(exchange).toOpaque()
            if server.state.withLock({ $0.shuttingDown }) {
                return server.refuseDuringShutdown(exchange, connection: connection)
            }
            if let refusal = server.screen(exchange) {
                // Without a body, answered when the request is complete, so the connection stays
                // open; with one, at once, so the body is never read (libmicrohttpd then closes).
                let hasBody = exchange.headers["Transfer-Encoding"] != nil
                    || (exchange.headers["Content-Length"].flatMap(Int.init) ?? 0) > 0
                guard hasBody else {
                    exchange.state.withLock { $0.response = refusal }
                    return .YES
                }
                exchange.state.withLock { $0.dispatched = true }
                return server.queue(refusal, for: exchange, on: connection)
            }
            if let route = exchange.state.withLock({ $0.matched }), route.options.streamsBody {
                server.startStreaming(exchange, route: route)
            }
            return .YES
        }
        let exchange = Unmanaged<Exchange>.fromOpaque(existing).takeUnretainedValue()
        if uploadDataSize.pointee > 0 {
            if let uploadData { server.receive(exchange, data: uploadData, count: uploadDataSize.pointee) }
            uploadDataSize.pointee = 0
            return .YES
        }
        if exchange.state.withLock({ $0.dispatched && $0.response == nil }) { return .YES }
        return server.dispatch(exchange, connection: connection)
    }

    /// Marks, in a request's `con_cls` slot before its first access call, a raw URI that
    /// holds `%00`. libmicrohttpd decodes the path and the query into C strings, so a NUL cuts
    /// them short (`/pools/a%00x` would be served as `/pools/a`); only the raw URI shows it.
    /// The address of a byte allocated once and kept, so never an ``Exchange``'s.
    private static let encodedNULMark = UInt(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))

    private static let rawURI: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?)
        -> UnsafeMutableRawPointer? = { _, uri, _ in
        guard let uri else { return nil }
        var index = 0
        while uri[index] != 0 {
            if uri[index] == 0x25, uri[index + 1] == 0x30, uri[index + 2] == 0x30 {
                return UnsafeMutableRawPointer(bitPattern: encodedNULMark)
            }
            index += 1
        }
        return nil
    }

    private static let completed: MHD_RequestCompletedCallback = { context, _, slot, _ in
        guard let context, let slot, let pointer = slot.pointee else { return }
        slot.pointee = nil
        if UInt(bitPattern: pointer) == encodedNULMark { return }
        let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
        let exchange = Unmanaged<Exchange>.fromOpaque(pointer).takeRetainedValue()
        server.complete(exchange)
    }

    private static let upgraded: MHD_UpgradeHandler = { context, _, slot, extra, extraCount, socket, handle in
        guard let context, let handle else { return }
        // The request is answered: it is in flight no more (libmicrohttpd completes it only
        // when the upgraded connection closes), and its context is taken here.
        if let slot {
            let exchange = Unmanaged<Exchange>.fromOpaque(slot).takeUnretainedValue()
            exchange.state.withLock { $0.pendingUpgrade = nil }
            let server = Unmanaged<UpgradeContext>.fromOpaque(context).takeUnretainedValue().server
            server.state.withLock { $0.inFlight[ObjectIdentifier(exchange)] = nil }
            server.changes.signal()
        }
        let upgrade = Unmanaged<UpgradeContext>.fromOpaque(context).takeRetainedValue()
        let initial = extra.map { pointer in
            pointer.withMemoryRebound(to: UInt8.self, capacity: extraCount) { Array(UnsafeBufferPointer(start: $0, count: extraCount)) }
        } ?? []
        let connection = UpgradedConnection(descriptor: socket, initialBytes: initial, handle: handle)
        upgrade.server.adopt(connection, running: upgrade.handler)
    }

    private static let readStream: MHD_ContentReaderCallback = { context, _, buffer, max in
        guard let context, let buffer else { return -2 }
        let sink = Unmanaged<StreamSink>.fromOpaque(context).takeUnretainedValue()
        return sink.read(into: buffer, max: max)
    }

    /// The body of a HEAD answer: none (the end of the stream, should it ever be asked for).
    private static let noBody: MHD_ContentReaderCallback = { _, _, _, _ in -1 }

    private static let freeStream: MHD_ContentReaderFreeCallback = { context in
        guard let context else { return }
        let sink = Unmanaged<StreamSink>.fromOpaque(context).takeRetainedValue()
        sink.close()
    }
}

/// Collects libmicrohttpd's key/value pairs (headers or query arguments).
private final class ValueCollector {
    var values: [(name: String, value: String)] = []

    static let iterator: MHD_KeyValueIterator = { context, _, key, value in
        guard let context, let key else { return .YES }
        let collector = Unmanaged<ValueCollector>.fromOpaque(context).takeUnretainedValue()
        collector.values.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
        return .YES
    }
}

/// libmicrohttpd's flag and option numbers, from microhttpd.h (0.9.x ABI).
private enum Flag {
    static let errorLog: UInt32 = 1
    static let internalPollingThread: UInt32 = 8
    static let poll: UInt32 = 64
    static let itc: UInt32 = 1024
    static let allowSuspendResume: UInt32 = 8192 | itc
    static let tls: UInt32 = 2
    static let allowUpgrade: UInt32 = 32768
}

private enum Option {
    static let end = Int32(MHD_OPTION.END.rawValue)
    static let connectionMemoryLimit = Int32(MHD_OPTION.CONNECTION_MEMORY_LIMIT.rawValue)
    static let connectionLimit = Int32(MHD_OPTION.CONNECTION_LIMIT.rawValue)
    static let connectionTimeout = Int32(MHD_OPTION.CONNECTION_TIMEOUT.rawValue)
    static let notifyCompleted = Int32(MHD_OPTION.NOTIFY_COMPLETED.rawValue)
    static let uriLogCallback = Int32(MHD_OPTION.URI_LOG_CALLBACK.rawValue)
    static let perIPConnectionLimit = Int32(MHD_OPTION.PER_IP_CONNECTION_LIMIT.rawValue)
    static let threadPoolSize = Int32(MHD_OPTION.THREAD_POOL_SIZE.rawValue)
    static let listenSocket = Int32(MHD_OPTION.LISTEN_SOCKET.rawValue)
    static let httpsMemoryKey = Int32(MHD_OPTION.HTTPS_MEM_KEY.rawValue)
    static let httpsMemoryCertificate = Int32(MHD_OPTION.HTTPS_MEM_CERT.rawValue)
    static let httpsPriorities = Int32(MHD_OPTION.HTTPS_PRIORITIES.rawValue)
    static let httpsMemoryTrust = Int32(MHD_OPTION.HTTPS_MEM_TRUST.rawValue)
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
