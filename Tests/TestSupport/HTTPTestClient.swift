import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain HTTP/1.1 client on a blocking socket, for tests that need control a library
/// client hides: partial reads of a stream, idle connections, exact bytes on the wire.
/// Its calls block, so async tests run them through ``onOwnThread(_:)``.
///
/// `@unchecked Sendable`: a test hands a connection from one thread to the next, awaiting
/// each before the next starts, so no two threads ever use one connection at once.
public final class HTTPTestConnection: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let descriptor: Int32
    /// `host:port` as a client that connected there sends it in `Host`.
    public let authority: String
    private var buffer: [UInt8] = []
    /// The method of the last request sent: a HEAD answer has no body, whatever its headers say.
    private var lastMethod = ""

    public init(port: UInt16, host: String = "127.0.0.1", timeout: Double = 10) throws {
        authority = "\(host):\(port)"
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw Failure(description: "connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        setTimeout(timeout)
    }

    deinit { close(descriptor) }

    /// A read timeout guards against a hang, so it scales under a sanitizer (``TestTiming``).
    public func setTimeout(_ unscaled: Double) {
        let seconds = unscaled * TestTiming.slowdown
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    public func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends one request. `Host` names the address connected to unless given; `Content-Length`
    /// is added for a body, and `Content-Type: application/json` unless one is given (the
    /// body of every call that reads one is JSON).
    public func sendRequest(_ method: String, _ path: String, headers: [(String, String)] = [],
                            body: [UInt8] = []) throws {
        lastMethod = method
        let has = { (name: String) in headers.contains { $0.0.lowercased() == name } }
        var head = "\(method) \(path) HTTP/1.1\r\n"
        if !has("host") { head += "Host: \(authority)\r\n" }
        if !body.isEmpty, !has("content-type") { head += "Content-Type: application/json\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try send(Array(head.utf8) + body)
    }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var count: Int
        repeat { count = recv(descriptor, &chunk, chunk.count, 0) } while count < 0 && errno == EINTR
        if count > 0 {
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        if count == 0 { return false }
        throw Failure(description: errno == EAGAIN ? "timed out reading" : "recv: \(String(cString: strerror(errno)))")
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 0x0A) {
                let line = buffer[..<index]
                buffer.removeFirst(index + 1)
                return String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
            }
            guard try fill() else { throw Failure(description: "connection closed mid-line") }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw Failure(description: "connection closed mid-body") }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    /// Reads a status line and headers.
    public func readHead() throws -> HTTPTestResponse {
        let status = try readLine()
        let parts = status.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let code = Int(parts[1]) else { throw Failure(description: "bad status line: \(status)") }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPTestResponse(status: code, headers: headers, body: [])
    }

    /// Reads one chunk of a chunked body; nil for the last (empty) chunk.
    public func readChunk() throws -> [UInt8]? {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw Failure(description: "bad chunk size: \(sizeLine)")
        }
        if size == 0 {
            _ = try readLine()
            return nil
        }
        let data = try readExactly(size)
        _ = try readLine()
        return data
    }

    /// Reads a whole response.
    public func readResponse() throws -> HTTPTestResponse {
        var response = try readHead()
        if lastMethod == "HEAD" || response.status == 204 || response.status == 304
            || (100..<200).contains(response.status) {
            return response  // RFC 9112 §6.3: no body, whatever the headers say
        }
        if response.headers["transfer-encoding"]?.lowercased() == "chunked" {
            while let chunk = try readChunk() { response.body += chunk }
        } else if let length = response.headers["content-length"].flatMap(Int.init) {
            response.body = try readExactly(length)
        } else {
            while try fill() {}
            response.body = buffer
            buffer = []
        }
        return response
    }

    /// Whether the server closed the connection (reads end) within the socket's timeout.
    public func isClosedByPeer() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count > 0 || (count < 0 && errno == EINTR) { continue }
            // An orderly close or a reset both mean the peer closed it; a timeout means it did not.
            return count == 0 || errno == ECONNRESET
        }
    }
}

public struct HTTPTestResponse: Sendable {
    public let status: Int
    public let headers: [String: String]
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    public func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw HTTPTestConnection.Failure(description: "body is not a JSON object: \(text)")
        }
        return object
    }
}

/// One GET on a new connection.
public func httpRequest(port: UInt16, host: String = "127.0.0.1", _ path: String, headers: [(String, String)] = [],
                        timeout: Double = 10) async throws -> HTTPTestResponse {
    try await httpRequest(port: port, host: host, "GET", path, headers: headers, timeout: timeout)
}

/// One request on a new connection.
public func httpRequest(port: UInt16, host: String = "127.0.0.1", _ method: String, _ path: String,
                        headers: [(String, String)] = [], body: [UInt8] = [], timeout: Double = 10) async throws
    -> HTTPTestResponse {
    try await onOwnThread {
        let connection = try HTTPTestConnection(port: port, host: host, timeout: timeout)
        try connection.sendRequest(method, path, headers: headers, body: body)
        return try connection.readResponse()
    }
}

/// Runs blocking `body` on a thread of its own, so it never occupies Swift's cooperative pool.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
