import FoundationEssentials

/// The server's side of the RFC 6455 opening handshake (§4.2): the request's checks, the
/// accept value and the subprotocol choice.
public enum WebSocketHandshake {
    /// The GUID RFC 6455 §1.3 appends to the client's key.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The `type` of a refused handshake's problem document.
    public static let problemType = Problem.type("websocket-handshake")

    /// Without surrounding spaces and tabs (FoundationEssentials has no `trimmingCharacters`).
    static func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    /// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
    public static func accept(key: String) -> String {
        Data(SHA1.digest(Array((key + guid).utf8))).base64EncodedString()
    }

    /// The response headers of a valid upgrade request, or the problem that refuses it:
    /// 426 (with the version or protocol the server speaks) when it is not a version-13
    /// WebSocket upgrade, 400 when its key is not 16 bytes in base64. The subprotocol is the
    /// client's first offer that `subprotocols` holds; none when nothing matches.
    public static func headers(for request: Request, subprotocols: [String]) throws(Problem) -> [(String, String)] {
        func tokens(_ name: String) -> [String] {
            request.headers.filter { $0.name.caseInsensitiveEquals(name) }
                .flatMap { $0.value.split(separator: ",") }
                .map { trimmed(Substring($0)) }
        }
        guard tokens("Upgrade").contains(where: { $0.lowercased() == "websocket" }),
              tokens("Connection").contains(where: { $0.lowercased() == "upgrade" }) else {
            throw Problem(type: problemType, title: "Upgrade Required", status: 426,
                          detail: "this endpoint is a WebSocket: send Connection: Upgrade and Upgrade: websocket",
                          headers: [("Upgrade", "websocket")])
        }
        guard request.headers["Sec-WebSocket-Version"].map({ trimmed(Substring($0)) }) == "13" else {
            throw Problem(type: problemType, title: "Upgrade Required", status: 426,
                          detail: "only WebSocket version 13 (RFC 6455) is spoken",
                          headers: [("Sec-WebSocket-Version", "13")])
        }
        guard let key = request.headers["Sec-WebSocket-Key"].map({ trimmed(Substring($0)) }),
              let decoded = Data(base64Encoded: key), decoded.count == 16 else {
            throw Problem(type: problemType, title: "Bad Request", status: 400,
                          detail: "Sec-WebSocket-Key must be 16 bytes in base64",
                          extensions: ["header": .string("Sec-WebSocket-Key")])
        }
        var headers = [("Upgrade", "websocket"), ("Sec-WebSocket-Accept", accept(key: key))]
        if let chosen = tokens("Sec-WebSocket-Protocol").first(where: { subprotocols.contains($0) }) {
            headers.append(("Sec-WebSocket-Protocol", chosen))
        }
        return headers
    }
}

extension Response {
    /// Accepts a WebSocket upgrade (on a route declared with ``RouteOptions/upgrade``) and runs
    /// `handler` with the open socket; when it returns, the socket is closed with 1000 unless
    /// the handler closed it. Throws the handshake's ``Problem`` for a request that is not a
    /// valid upgrade.
    public static func webSocket(_ request: Request, subprotocols: [String] = [],
                                 configuration: WebSocket.Configuration = WebSocket.Configuration(),
                                 _ handler: @escaping @Sendable (WebSocket) async -> Void) throws(Problem) -> Response {
        let headers = try WebSocketHandshake.headers(for: request, subprotocols: subprotocols)
        let subprotocol = headers.first { $0.0 == "Sec-WebSocket-Protocol" }?.1
        return .upgrade(headers: headers) { connection in
            let socket = WebSocket(connection: connection, subprotocol: subprotocol, configuration: configuration)
            await handler(socket)
            await socket.finish()
        }
    }
}
