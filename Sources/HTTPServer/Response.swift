import FoundationEssentials

/// One HTTP response: status, headers and a body that is either bytes or a stream.
public struct Response: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Body
    /// Facts about the outcome for ``HTTPServer/Configuration/onCompletion`` (e.g. which domain
    /// a request created); never sent.
    public var annotations: [String: String] = [:]
    /// A problem the server renders when it sends the response, with the request's own id
    /// (a handler's response that could not be made, e.g. JSON that did not encode).
    var deferredProblem: Problem?
    /// The problem a problem response carries, so the server can give its body the id of the
    /// request it answers (a replayed answer included), the same as the `X-Request-Id` header.
    var problemDocument: (problem: Problem, instance: String?)?

    public enum Body: Sendable {
        case bytes([UInt8])
        /// Sent as the stream produces it: with `Content-Length` when the stream declares its
        /// length, else with chunked transfer encoding.
        case stream(ResponseStream)
        /// `101 Switching Protocols`, then the connection belongs to the handler (only on
        /// routes declared with ``RouteOptions/upgrade``).
        case upgrade(UpgradeHandler)
    }

    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int = 200, contentType: String, body: [UInt8]) {
        self.init(status: status, headers: HTTPHeaders([("Content-Type", contentType)]), body: .bytes(body))
    }

    public init(status: Int = 200, contentType: String, text: String) {
        self.init(status: status, contentType: contentType, body: Array(text.utf8))
    }

    /// A JSON response (keys sorted, so the same value gives the same bytes; see ``JSONWriter``).
    public static func json(_ value: some Encodable, status: Int = 200) -> Response {
        do {
            return Response(status: status, contentType: "application/json", body: try JSONWriter.encode(value))
        } catch {
            var failed = Response(status: 500)
            failed.deferredProblem = .internalError("the response did not encode: \(error)")
            return failed
        }
    }

    /// A problem+json response.
    public static func problem(_ problem: Problem, instance: String?, requestID: String) -> Response {
        var headers = HTTPHeaders([("Content-Type", "application/problem+json")])
        for (name, value) in problem.headers { headers.add(name, value) }
        var response = Response(status: problem.status, headers: headers,
                                body: .bytes(problem.encoded(instance: instance, requestID: requestID)))
        response.problemDocument = (problem, instance)
        return response
    }

    /// Switches the connection to another protocol (`Upgrade: <protocol>` among `headers`,
    /// e.g. `websocket` with its `Sec-WebSocket-Accept`); `handler` then owns the connection.
    public static func upgrade(headers: [(String, String)], _ handler: @escaping UpgradeHandler) -> Response {
        var all = HTTPHeaders([("Connection", "Upgrade")])
        for (name, value) in headers { all.add(name, value) }
        return Response(status: 101, headers: all, body: .upgrade(handler))
    }

    /// A streamed response whose body is `sequence`'s chunks.
    /// With `contentLength`, the sequence must produce exactly that many bytes; one that ends
    /// short ends the connection, so the client sees a truncated body, never a complete-looking one.
    public static func stream<S: AsyncSequence & Sendable>(contentType: String, status: Int = 200,
                                                          headers extra: [(String, String)] = [],
                                                          contentLength: UInt64? = nil,
                                                          _ sequence: S) -> Response where S.Element == [UInt8] {
        var headers = HTTPHeaders([("Content-Type", contentType)])
        for (name, value) in extra { headers.add(name, value) }
        var stream = ResponseStream(sequence)
        stream.contentLength = contentLength
        return Response(status: status, headers: headers, body: .stream(stream))
    }

    /// A streamed response whose body `produce` writes into the sink (from a thread of its
    /// own, if it likes, with ``StreamSink/writeBlocking(_:)``), at most `highWater` bytes
    /// ahead of the client (nil: the server's ``HTTPServer/Configuration/streamHighWater``).
    /// With `contentLength`, a producer that returns short ends the connection, as above.
    public static func stream(contentType: String, status: Int = 200, headers extra: [(String, String)] = [],
                              contentLength: UInt64? = nil, highWater: Int? = nil,
                              produce: @escaping @Sendable (StreamSink) async -> Void) -> Response {
        var headers = HTTPHeaders([("Content-Type", contentType)])
        for (name, value) in extra { headers.add(name, value) }
        var stream = ResponseStream(produce: produce)
        stream.contentLength = contentLength
        stream.highWater = highWater
        return Response(status: status, headers: headers, body: .stream(stream))
    }
}

/// A response body produced while it is sent. The server pulls the sequence only as fast as
/// the client reads; when the client goes away or the server shuts down, iteration is
/// cancelled.
public struct ResponseStream: Sendable {
    let produce: @Sendable (StreamSink) async -> Void
    /// The body's length when known in advance (sent as `Content-Length`); nil for chunked.
    public var contentLength: UInt64?
    /// Bytes the producer may be ahead of the client; nil: the server's own setting.
    public var highWater: Int?

    public init(produce: @escaping @Sendable (StreamSink) async -> Void) { self.produce = produce }

    public init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == [UInt8] {
        produce = { sink in
            do {
                for try await chunk in sequence {
                    if Task.isCancelled { break }
                    guard await sink.write(chunk) else { break }
                }
            } catch {
                // A failing sequence ends the stream; the client sees the chunked body end.
            }
        }
    }
}
