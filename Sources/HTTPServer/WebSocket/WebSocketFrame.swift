/// One RFC 6455 frame (§5.2) and its wire form. The server reads masked client frames and
/// writes unmasked ones.
struct WebSocketFrame: Sendable {
    enum Opcode: UInt8, Sendable {
        case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
        var isControl: Bool { rawValue & 0x8 != 0 }
    }

    var fin: Bool
    var opcode: Opcode
    var payload: [UInt8]

    /// The server's (unmasked) wire form.
    func encoded() -> [UInt8] { header() + payload }

    /// The wire form's header (unmasked): what precedes the payload.
    func header() -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
        let count = payload.count
        if count < 126 {
            bytes.append(UInt8(count))
        } else if count <= 0xFFFF {
            bytes += [126, UInt8(count >> 8), UInt8(count & 0xFF)]
        } else {
            bytes.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((UInt64(count) >> UInt64(shift)) & 0xFF)) }
        }
        return bytes
    }

    enum Parse {
        case frame(WebSocketFrame)
        /// The buffer does not yet hold a whole frame.
        case needMore
        /// The peer broke the protocol: close with this code.
        case failure(WebSocket.CloseCode, String)
    }

    /// Takes the first whole frame off `buffer`. A frame longer than `maxPayload` is refused
    /// as soon as its header is read, before its payload is buffered.
    static func parse(_ buffer: inout [UInt8], maxPayload: Int) -> Parse {
        guard buffer.count >= 2 else { return .needMore }
        let first = buffer[0], second = buffer[1]
        guard first & 0x70 == 0 else { return .failure(.protocolError, "reserved bits set with no extension negotiated") }
        guard let opcode = Opcode(rawValue: first & 0x0F) else {
            return .failure(.protocolError, "unknown opcode \(first & 0x0F)")
        }
        let fin = first & 0x80 != 0
        guard second & 0x80 != 0 else { return .failure(.protocolError, "client frames must be masked") }
        var length = UInt64(second & 0x7F)
        var offset = 2
        if length == 126 {
            guard buffer.count >= 4 else { return .needMore }
            length = UInt64(buffer[2]) << 8 | UInt64(buffer[3])
            offset = 4
        } else if length == 127 {
            guard buffer.count >= 10 else { return .needMore }
            length = buffer[2..<10].reduce(0) { $0 << 8 | UInt64($1) }
            offset = 10
            guard length >> 63 == 0 else { return .failure(.protocolError, "the payload length's top bit is set") }
        }
        if opcode.isControl {
            guard fin else { return .failure(.protocolError, "control frames must not be fragmented") }
            guard length <= 125 else { return .failure(.protocolError, "control frames carry at most 125 bytes") }
        }
        guard length <= UInt64(maxPayload) else {
            return .failure(.messageTooBig, "a frame of \(length) bytes is over the limit of \(maxPayload)")
        }
        let total = offset + 4 + Int(length)
        guard buffer.count >= total else { return .needMore }
        let mask = Array(buffer[offset..<(offset + 4)])
        var payload = Array(buffer[(offset + 4)..<total])
        for index in payload.indices { payload[index] ^= mask[index & 3] }
        buffer.removeFirst(total)
        return .frame(WebSocketFrame(fin: fin, opcode: opcode, payload: payload))
    }
}
