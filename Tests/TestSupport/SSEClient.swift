import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One server-sent event frame.
public struct SSEFrame: Sendable, Hashable {
    public var id: String?
    public var event: String?
    public var data: String
    /// A comment line (`: heartbeat`) or a `retry:` hint, with no event.
    public var comment: String?
    public var retry: Int?

    public func json() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] ?? [:]
    }
}

/// Turns a byte stream into SSE frames (split on blank lines), across any chunking.
public struct SSEParser: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) -> [SSEFrame] {
        pending += bytes
        var frames: [SSEFrame] = []
        while let end = Self.blankLine(in: pending) {
            let block = String(decoding: pending[..<end], as: UTF8.self)
            pending.removeFirst(end + 2)
            var frame = SSEFrame(data: "")
            var data: [String] = []
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(":") { frame.comment = String(line.dropFirst()).trimmingCharacters(in: .whitespaces); continue }
                let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
                let value = parts.count > 1 ? (parts[1].hasPrefix(" ") ? String(parts[1].dropFirst()) : parts[1]) : ""
                switch parts.first {
                case "id": frame.id = value
                case "event": frame.event = value
                case "data": data.append(value)
                case "retry": frame.retry = Int(value)
                default: break
                }
            }
            frame.data = data.joined(separator: "\n")
            frames.append(frame)
        }
        return frames
    }

    private static func blankLine(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 0x0A && bytes[index + 1] == 0x0A { return index }
        return nil
    }
}

/// One SSE stream over a real socket, read on the caller's thread.
///
/// `@unchecked Sendable`: a test hands it from one `onOwnThread` call to the next and never
/// uses it from two threads at once, so its mutable parser state is never shared.
public final class SSEStreamClient: @unchecked Sendable {
    public let connection: HTTPTestConnection
    public let head: HTTPTestResponse
    private var parser = SSEParser()
    private var frames: [SSEFrame] = []

    public init(port: UInt16, path: String, headers: [(String, String)] = [], timeout: Double = 10) throws {
        connection = try HTTPTestConnection(port: port, timeout: timeout)
        try connection.sendRequest("GET", path, headers: headers)
        head = try connection.readHead()
    }

    /// The next frame; throws on timeout, nil at the end of the stream.
    public func next() throws -> SSEFrame? {
        while frames.isEmpty {
            guard let chunk = try connection.readChunk() else { return nil }
            frames += parser.feed(chunk)
        }
        return frames.removeFirst()
    }

    /// The next frame that is an event (skipping the retry hint and heartbeats).
    public func nextEvent() throws -> SSEFrame? {
        while let frame = try next() {
            if frame.event != nil { return frame }
        }
        return nil
    }

    /// Events until `count` are read.
    public func events(_ count: Int) throws -> [SSEFrame] {
        var events: [SSEFrame] = []
        while events.count < count, let event = try nextEvent() { events.append(event) }
        return events
    }
}

/// Many SSE streams read by one thread with poll(2): for fan-out tests, where a thread per
/// client would measure the test's threads, not the server's.
/// `@unchecked Sendable`: handed from one `onOwnThread` call to the next, never used by two
/// threads at once.
public final class SSEFanOutClient: @unchecked Sendable {
    struct Client {
        let descriptor: Int32
        var raw: [UInt8] = []
        var headDone = false
        var chunked = ChunkedDecoder()
        var parser = SSEParser()
        var events: [SSEFrame] = []
    }

    private var clients: [Client] = []

    public init(port: UInt16, path: String, count: Int) throws {
        for _ in 0..<count {
            let connection = try HTTPTestConnection(port: port)
            let descriptor = dup(connection.descriptor)
            let request = "GET \(path) HTTP/1.1\r\nHost: \(connection.authority)\r\n\r\n"
            _ = request.withCString { send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            clients.append(Client(descriptor: descriptor))
        }
        // The server subscribes before it answers, so once every head is in, every stream
        // sees whatever happens next: without this wait a test's first event could come
        // before a late stream's subscription and be missed by it alone.
        _ = read(untilEach: 0, timeout: 30, heads: true)
        let waiting = clients.filter { !$0.headDone }.count
        if waiting > 0 { throw SSEFanOutError.noHead(streams: waiting) }
    }

    public enum SSEFanOutError: Error { case noHead(streams: Int) }

    deinit { clients.forEach { close($0.descriptor) } }

    /// Reads until every client has `count` events, or `timeout` passes. Returns each client's events.
    /// With `heads`, reads until every client has its response head instead.
    public func read(untilEach count: Int, timeout: Double, heads: Bool = false) -> [[SSEFrame]] {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while clients.contains(where: { heads ? !$0.headDone : $0.events.count < count }), Date() < deadline {
            var fds = clients.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 200) > 0 else { continue }
            for (index, fd) in fds.enumerated() where fd.revents & Int16(POLLIN) != 0 {
                let read = recv(fd.fd, &buffer, buffer.count, 0)
                guard read > 0 else { continue }
                clients[index].consume(Array(buffer[0..<read]))
            }
        }
        return clients.map(\.events)
    }
}

extension SSEFanOutClient.Client {
    mutating func consume(_ bytes: [UInt8]) {
        var body = bytes
        if !headDone {
            raw += bytes
            guard let end = (0..<max(0, raw.count - 3)).first(where: {
                raw[$0] == 13 && raw[$0 + 1] == 10 && raw[$0 + 2] == 13 && raw[$0 + 3] == 10
            }) else { return }
            headDone = true
            body = Array(raw[(end + 4)...])
            raw = []
        }
        events += parser.feed(chunked.feed(body)).filter { $0.event != nil }
    }
}

/// Decodes an HTTP/1.1 chunked body fed in pieces of any size.
public struct ChunkedDecoder: Sendable {
    private var pending: [UInt8] = []
    private var remaining = 0
    private var afterData = false

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) -> [UInt8] {
        pending += bytes
        var output: [UInt8] = []
        while true {
            if remaining > 0 {
                let take = min(remaining, pending.count)
                output += pending[..<take]
                pending.removeFirst(take)
                remaining -= take
                if remaining > 0 { return output }
                afterData = true
            }
            guard let lineEnd = (0..<max(0, pending.count - 1)).first(where: { pending[$0] == 13 && pending[$0 + 1] == 10 })
            else { return output }
            let line = String(decoding: pending[..<lineEnd], as: UTF8.self)
            pending.removeFirst(lineEnd + 2)
            if afterData {
                afterData = false  // the CRLF after a chunk's data
                continue
            }
            guard let size = Int(line.split(separator: ";").first ?? "", radix: 16), size > 0 else { return output }
            remaining = size
        }
    }
}
