import Locking

/// An open RFC 6455 WebSocket on an upgraded connection (see ``Response/webSocket(_:subprotocols:configuration:_:)``).
/// It answers pings, joins fragments, checks text for UTF-8 and closes with the code RFC 6455
/// prescribes when the peer breaks the protocol. One task receives at a time; any task may send.
public final class WebSocket: Sendable {
    public struct Configuration: Sendable {
        /// The largest message (all its fragments together) accepted; larger ones close the socket with 1009.
        public var maxMessageSize: Int
        /// How long a socket may carry nothing either way before it is closed with 1001
        /// ("going away") and the reason; nil: no limit. Pings count, so a client that pings
        /// keeps an idle console open.
        public var idleTimeout: Duration?
        public init(maxMessageSize: Int = 1 << 20, idleTimeout: Duration? = nil) {
            self.maxMessageSize = maxMessageSize
            self.idleTimeout = idleTimeout
        }
    }

    public enum Message: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
    }

    /// A close status code (RFC 6455 §7.4).
    public struct CloseCode: RawRepresentable, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let normal = CloseCode(rawValue: 1000)
        public static let goingAway = CloseCode(rawValue: 1001)
        public static let protocolError = CloseCode(rawValue: 1002)
        public static let invalidPayload = CloseCode(rawValue: 1007)
        public static let policyViolation = CloseCode(rawValue: 1008)
        public static let messageTooBig = CloseCode(rawValue: 1009)
        public static let internalError = CloseCode(rawValue: 1011)

        /// Codes a peer may send in a close frame: the defined ones and the registered and
        /// private ranges; 1004–1006 and 1015 are never sent on the wire.
        var mayBeSent: Bool {
            (1000...1003).contains(rawValue) || (1007...1014).contains(rawValue) || (3000...4999).contains(rawValue)
        }
    }

    /// How long a peer may take to answer our close frame before the connection is dropped.
    static let closeAnswerMilliseconds: Int32 = 5_000

    /// The subprotocol the handshake chose; nil when none.
    public let subprotocol: String?
    public let configuration: Configuration
    let connection: UpgradedConnection

    private struct State {
        /// Bytes read and not yet parsed.
        var buffer: [UInt8]
        /// The fragments of a message not yet finished, and its kind.
        var fragments: [UInt8] = []
        var fragmentedOpcode: WebSocketFrame.Opcode?
        var closeSent = false
        /// The peer's close frame arrived, or the stream ended, or the peer broke the protocol.
        var readingDone = false
        /// The code and reason of the peer's close frame.
        var peerClose: (code: CloseCode?, reason: String)?
        /// When a byte last went either way (``Configuration/idleTimeout``).
        var lastActivity = ContinuousClock.now
    }
    private let state: Mutex<State>

    init(connection: UpgradedConnection, subprotocol: String?, configuration: Configuration) {
        self.connection = connection
        self.subprotocol = subprotocol
        self.configuration = configuration
        self.state = Mutex(State(buffer: connection.initialBytes))
    }

    /// The code and reason of the peer's close frame, once it came (nil code: it carried none).
    public var peerClose: (code: CloseCode?, reason: String)? { state.withLock { $0.peerClose } }

    /// The next message; nil once the socket is closed (by the peer, by a protocol error, or
    /// when the connection ended).
    public func receive() async -> Message? {
        while true {
            let parsed = state.withLock { state -> WebSocketFrame.Parse? in
                state.readingDone ? nil : WebSocketFrame.parse(&state.buffer, maxPayload: configuration.maxMessageSize)
            }
            guard let parsed else { return nil }
            switch parsed {
            case .needMore:
                // Once the close frame is sent, the peer's answer is awaited for a bounded time only.
                let (closing, lastActivity) = state.withLock { ($0.closeSent, $0.lastActivity) }
                let bytes: [UInt8]
                if !closing, let idleTimeout = configuration.idleTimeout {
                    let left = lastActivity + idleTimeout - ContinuousClock.now
                    let milliseconds = Swift.max(0, Swift.min(Int64(Int32.max), left.components.seconds * 1000
                        + left.components.attoseconds / 1_000_000_000_000_000 + 1))
                    guard let received = await connection.receiveUnlessQuiet(timeoutMilliseconds: Int32(milliseconds)) else {
                        // Quiet this long: sends may have happened meanwhile, so look again.
                        if state.withLock({ ContinuousClock.now - $0.lastActivity >= idleTimeout }) {
                            await close(.goingAway, reason: "idle for \(idleTimeout.components.seconds) s")
                        }
                        continue
                    }
                    bytes = received
                } else {
                    bytes = await connection.receive(timeoutMilliseconds: closing ? Self.closeAnswerMilliseconds : -1)
                }
                if bytes.isEmpty {
                    state.withLock { $0.readingDone = true }
                    return nil
                }
                state.withLock {
                    $0.buffer += bytes
                    $0.lastActivity = .now
                }
            case .failure(let code, let reason):
                await fail(code, reason)
                return nil
            case .frame(let frame):
                if let message = await handle(frame) { return message }
            }
        }
    }

    /// A message from a frame, or nil when the frame was a control frame or a fragment.
    private func handle(_ frame: WebSocketFrame) async -> Message? {
        switch frame.opcode {
        case .ping:
            _ = await sendFrame(WebSocketFrame(fin: true, opcode: .pong, payload: frame.payload))
            return nil
        case .pong:
            return nil
        case .close:
            await receivedClose(frame.payload)
            return nil
        case .text, .binary:
            let fragmenting = state.withLock { state -> Bool in
                guard state.fragmentedOpcode == nil else { return true }
                if !frame.fin {
                    state.fragmentedOpcode = frame.opcode
                    state.fragments = frame.payload
                }
                return false
            }
            if fragmenting {
                await fail(.protocolError, "a new message began before the fragmented one ended")
                return nil
            }
            return frame.fin ? await message(frame.opcode, frame.payload) : nil
        case .continuation:
            let joined = state.withLock { state -> (WebSocketFrame.Opcode, [UInt8])?? in
                guard let opcode = state.fragmentedOpcode else { return .some(nil) }
                state.fragments += frame.payload
                guard state.fragments.count <= configuration.maxMessageSize else { return nil }
                guard frame.fin else { return .some(nil) }
                defer { state.fragments = []; state.fragmentedOpcode = nil }
                return (opcode, state.fragments)
            }
            switch joined {
            case .none:
                await fail(.messageTooBig, "the message is over the limit of \(configuration.maxMessageSize) bytes")
                return nil
            case .some(.some(let (opcode, payload))):
                return await message(opcode, payload)
            case .some(.none):
                if state.withLock({ $0.fragmentedOpcode == nil }) {
                    await fail(.protocolError, "a continuation frame with no message to continue")
                }
                return nil
            }
        }
    }

    private func message(_ opcode: WebSocketFrame.Opcode, _ payload: [UInt8]) async -> Message? {
        guard opcode == .text else { return .binary(payload) }
        guard let text = String(validating: payload, as: UTF8.self) else {
            await fail(.invalidPayload, "a text message that is not UTF-8")
            return nil
        }
        return .text(text)
    }

    /// The peer's close: answered with the same code (RFC 6455 §5.5.1) unless it is malformed.
    private func receivedClose(_ payload: [UInt8]) async {
        var code: CloseCode?
        var reason = ""
        if payload.count == 1 {
            await fail(.protocolError, "a close frame's payload of one byte")
            return
        }
        if payload.count >= 2 {
            let received = CloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
            guard received.mayBeSent else {
                await fail(.protocolError, "close code \(received.rawValue) may not be sent")
                return
            }
            guard let text = String(validating: payload.dropFirst(2), as: UTF8.self) else {
                await fail(.invalidPayload, "a close reason that is not UTF-8")
                return
            }
            code = received
            reason = text
        }
        state.withLock {
            $0.readingDone = true
            $0.peerClose = (code, reason)
        }
        await close(code ?? .normal, reason: "")
    }

    /// Closes with `code` after a protocol error by the peer; nothing more is read.
    private func fail(_ code: CloseCode, _ reason: String) async {
        state.withLock { $0.readingDone = true }
        await close(code, reason: reason)
    }

    /// Sends a message; false when the socket is closing or the peer is gone.
    @discardableResult
    public func send(_ message: Message) async -> Bool {
        switch message {
        case .text(let text): await sendFrame(WebSocketFrame(fin: true, opcode: .text, payload: Array(text.utf8)))
        case .binary(let bytes): await sendFrame(WebSocketFrame(fin: true, opcode: .binary, payload: bytes))
        }
    }

    private func sendFrame(_ frame: WebSocketFrame) async -> Bool {
        guard !state.withLock({ state in
            state.lastActivity = .now
            return state.closeSent
        }) else { return false }
        return await connection.send(frame.header(), frame.payload)
    }

    /// Sends the close frame with `code` and `reason` (cut to the 123 bytes a control frame
    /// leaves); once. A pending ``receive()`` then ends when the peer answers.
    public func close(_ code: CloseCode = .normal, reason: String = "") async {
        let first = state.withLock { state -> Bool in
            defer { state.closeSent = true }
            return !state.closeSent
        }
        guard first else { return }
        var payload = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        var reasonBytes = Array(reason.utf8.prefix(123))
        // Never cut inside a character: drop continuation bytes back to a whole one.
        while let last = reasonBytes.last, String(validating: reasonBytes, as: UTF8.self) == nil, last & 0x80 != 0 {
            reasonBytes.removeLast()
        }
        payload += reasonBytes
        _ = await connection.send(WebSocketFrame(fin: true, opcode: .close, payload: payload).encoded())
    }

    /// After the handler: the close frame (1000 unless one was sent), then the end of sending,
    /// then what the peer still sends is read and dropped for up to two seconds, so the peer
    /// reads the close frame rather than a reset.
    func finish() async {
        await close()
        await connection.shutdownSending()
        guard !state.withLock({ $0.peerClose != nil }) else { return }
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            if await connection.receive(timeoutMilliseconds: 200).isEmpty, state.withLock({ $0.readingDone }) { return }
        }
    }
}
