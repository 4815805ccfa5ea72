import ArgumentParser
import Dispatch
import FoundationEssentials
import Glibc
import HTTPServer
import Libvirt
import Logging
import VirtHost
import VirtHostAPI

/// The service's entry point and the one place configuration is read: flags, each with an
/// environment variable as its default, handed down as values.
@main
struct VirtHostD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "virthostd",
        abstract: "Serves a libvirt host's and its guests' operations as an HTTP/JSON API."
    )

    @Option(help: "libvirt connection URI. Env: VIRTHOST_URI.")
    var uri: String = environment("VIRTHOST_URI") ?? "test:///default"

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one). Env: VIRTHOST_LISTEN.")
    var listen: String = environment("VIRTHOST_LISTEN") ?? "127.0.0.1:8080"

    @Option(help: "trace, debug, info, notice, warning, error or critical. Env: VIRTHOST_LOG_LEVEL.")
    var logLevel: String = environment("VIRTHOST_LOG_LEVEL") ?? "info"

    @Flag(inversion: .prefixedNo, help: "Open a read-only libvirt connection. Env: VIRTHOST_READ_ONLY (1/true/yes).")
    var readOnly: Bool = environment("VIRTHOST_READ_ONLY").map { ["1", "true", "yes"].contains($0.lowercased()) } ?? false

    @Option(help: "Where guests' disk images live; its free space is reported. Env: VIRTHOST_INSTANCES_PATH.")
    var instancesPath: String = environment("VIRTHOST_INSTANCES_PATH") ?? "/var/lib/libvirt/images"

    @Option(name: .customLong("allowed-disk-root"), parsing: .singleValue,
            help: "A directory guests' disks may live in (repeatable; default: the instances path). Env: VIRTHOST_ALLOWED_DISK_ROOTS (colon-separated).")
    var allowedDiskRoots: [String] = environment("VIRTHOST_ALLOWED_DISK_ROOTS")?.split(separator: ":").map(String.init) ?? []

    @Option(help: "Events kept for replay with Last-Event-ID. Env: VIRTHOST_EVENT_BUFFER.")
    var eventBuffer: Int = environment("VIRTHOST_EVENT_BUFFER").flatMap(Int.init) ?? 1024

    @Option(help: "Events queued per event-stream client before its oldest are dropped. Env: VIRTHOST_EVENT_QUEUE.")
    var eventQueue: Int = environment("VIRTHOST_EVENT_QUEUE").flatMap(Int.init) ?? 1024

    @Option(help: "Seconds between heartbeat comments on a quiet event stream. Env: VIRTHOST_SSE_HEARTBEAT.")
    var sseHeartbeat: Int = environment("VIRTHOST_SSE_HEARTBEAT").flatMap(Int.init) ?? 15

    @Option(help: "Seconds a stopped event is held for ?coalesce=true clients, dropped if the domain starts again (0 = off). Env: VIRTHOST_STOP_EVENT_DELAY.")
    var stopEventDelay: Int = environment("VIRTHOST_STOP_EVENT_DELAY").flatMap(Int.init) ?? 0

    @Option(help: "Milliseconds a host-metrics sample may be reused (0 = every request sweeps libvirt). Env: VIRTHOST_METRICS_MAX_AGE_MS.")
    var metricsMaxAgeMs: Int = environment("VIRTHOST_METRICS_MAX_AGE_MS").flatMap(Int.init) ?? 1000

    @Option(help: "Longest wait in milliseconds between attempts to reach a lost libvirt (the wait doubles from 250 ms up to this). Env: VIRTHOST_RECONNECT_MAX_DELAY_MS.")
    var reconnectMaxDelayMs: Int = environment("VIRTHOST_RECONNECT_MAX_DELAY_MS").flatMap(Int.init) ?? 1000

    @Option(help: "libmicrohttpd threads (1 = one epoll thread). Env: VIRTHOST_HTTP_THREADS.")
    var httpThreads: Int = environment("VIRTHOST_HTTP_THREADS").flatMap(Int.init) ?? 1

    @Option(help: "Most connections at once. Env: VIRTHOST_CONNECTION_LIMIT.")
    var connectionLimit: Int = environment("VIRTHOST_CONNECTION_LIMIT").flatMap(Int.init) ?? 4096

    @Option(help: "Most connections from one client address (0 = no limit). Env: VIRTHOST_PER_IP_CONNECTION_LIMIT.")
    var perIPConnectionLimit: Int = environment("VIRTHOST_PER_IP_CONNECTION_LIMIT").flatMap(Int.init) ?? 0

    @Option(help: "Seconds an idle connection is kept. Env: VIRTHOST_CONNECTION_TIMEOUT.")
    var connectionTimeout: Int = environment("VIRTHOST_CONNECTION_TIMEOUT").flatMap(Int.init) ?? 30

    @Option(help: "Largest request body in bytes (larger gets 413). Env: VIRTHOST_MAX_BODY_SIZE.")
    var maxBodySize: Int = environment("VIRTHOST_MAX_BODY_SIZE").flatMap(Int.init) ?? 1 << 20

    @Option(help: "Memory per connection in bytes, which bounds the request line and headers (larger get 431). Env: VIRTHOST_MAX_HEADER_SIZE.")
    var maxHeaderSize: Int = environment("VIRTHOST_MAX_HEADER_SIZE").flatMap(Int.init) ?? 16 * 1024

    @Option(name: .customLong("tokens-file"), help: "Bearer tokens file: `<name> <read|write> <sha256 hex>` a line; re-read on SIGHUP. Env: VIRTHOST_TOKENS_FILE.")
    var tokensFileFlag: String?
    var tokensFile: String? { tokensFileFlag ?? Self.environment("VIRTHOST_TOKENS_FILE") }

    @Option(name: .customLong("tls-cert"), help: "Serve HTTPS with this PEM certificate chain (needs --tls-key). Env: VIRTHOST_TLS_CERT.")
    var tlsCertFlag: String?
    var tlsCert: String? { tlsCertFlag ?? Self.environment("VIRTHOST_TLS_CERT") }

    @Option(name: .customLong("tls-key"), help: "The PEM private key of --tls-cert. Env: VIRTHOST_TLS_KEY.")
    var tlsKeyFlag: String?
    var tlsKey: String? { tlsKeyFlag ?? Self.environment("VIRTHOST_TLS_KEY") }

    @Option(name: .customLong("tls-client-ca"), help: "Require client certificates issued by these PEM CAs (mutual TLS). Env: VIRTHOST_TLS_CLIENT_CA.")
    var tlsClientCaFlag: String?
    var tlsClientCa: String? { tlsClientCaFlag ?? Self.environment("VIRTHOST_TLS_CLIENT_CA") }

    @Option(help: "GnuTLS priority string. Env: VIRTHOST_TLS_PRIORITIES.")
    var tlsPriorities: String = environment("VIRTHOST_TLS_PRIORITIES") ?? TLSConfiguration.modernPriorities

    @Flag(help: "Allow listening beyond loopback with neither tokens nor mutual TLS. Env: VIRTHOST_INSECURE_NO_AUTH (1/true/yes).")
    var insecureNoAuth: Bool = environment("VIRTHOST_INSECURE_NO_AUTH").map { ["1", "true", "yes"].contains($0.lowercased()) } ?? false

    @Option(help: "Audit log: stderr, stdout, or a file to append JSON lines to. Env: VIRTHOST_AUDIT_LOG.")
    var auditLog: String = environment("VIRTHOST_AUDIT_LOG") ?? "stderr"

    @Option(help: "Seconds an Idempotency-Key's answer is kept. Env: VIRTHOST_IDEMPOTENCY_TTL.")
    var idempotencyTtl: Int = environment("VIRTHOST_IDEMPOTENCY_TTL").flatMap(Int.init) ?? 86_400

    @Option(name: .customLong("allowed-host"), parsing: .singleValue,
            help: "A host name the Host header may carry beyond the listening address, localhost and loopback (repeatable; defeats DNS rebinding). Env: VIRTHOST_ALLOWED_HOSTS (comma-separated).")
    var allowedHosts: [String] = environment("VIRTHOST_ALLOWED_HOSTS")?.split(separator: ",").map { String($0).trimmed } ?? []

    @Option(name: .customLong("allowed-origin"), parsing: .singleValue,
            help: "A web origin (scheme://host[:port]) that may call the service from a browser, with CORS (repeatable; others get 403). Env: VIRTHOST_ALLOWED_ORIGINS (comma-separated).")
    var allowedOrigins: [String] = environment("VIRTHOST_ALLOWED_ORIGINS")?.split(separator: ",").map { String($0).trimmed } ?? []

    private static func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// Numeric settings whose environment variable must parse, rather than silently fall back.
    private static let numericEnvironment = ["VIRTHOST_METRICS_MAX_AGE_MS", "VIRTHOST_EVENT_BUFFER", "VIRTHOST_EVENT_QUEUE", "VIRTHOST_SSE_HEARTBEAT",
                                             "VIRTHOST_STOP_EVENT_DELAY", "VIRTHOST_HTTP_THREADS", "VIRTHOST_CONNECTION_LIMIT",
                                             "VIRTHOST_PER_IP_CONNECTION_LIMIT", "VIRTHOST_CONNECTION_TIMEOUT",
                                             "VIRTHOST_MAX_BODY_SIZE", "VIRTHOST_MAX_HEADER_SIZE", "VIRTHOST_IDEMPOTENCY_TTL",
                                             "VIRTHOST_RECONNECT_MAX_DELAY_MS"]

    func validate() throws {
        for name in Self.numericEnvironment {
            if let value = Self.environment(name), Int(value) == nil {
                throw ValidationError("\(name) must be a whole number, got \(value)")
            }
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let address = try ListenAddress(listen)
        for origin in allowedOrigins {
            let rest = origin.hasPrefix("http://") ? origin.dropFirst(7) : origin.hasPrefix("https://") ? origin.dropFirst(8) : nil
            guard let rest, !rest.isEmpty, !rest.contains("/") else {
                throw ValidationError("--allowed-origin must be scheme://host[:port] with scheme http or https, got \(origin)")
            }
        }
        for name in allowedHosts where name.isEmpty || name.contains("/") || name.contains(" ") {
            throw ValidationError("--allowed-host must be a host name, got \(name)")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if tlsClientCa != nil, tlsCert == nil {
            throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
        }
        if !address.isLoopback, tokensFile == nil, tlsClientCa == nil, !insecureNoAuth {
            throw ValidationError("""
                refusing to listen on \(listen) without authentication: anyone who reaches the port could \
                create and destroy guests. Give --tokens-file (bearer tokens) or --tls-client-ca (mutual TLS), \
                listen on loopback, or pass --insecure-no-auth to accept the risk.
                """)
        }
        for root in allowedDiskRoots + [instancesPath] where !root.hasPrefix("/") {
            throw ValidationError("disk roots and the instances path must be absolute, got \(root)")
        }
        guard eventBuffer >= 1, eventQueue >= 1, sseHeartbeat >= 1, stopEventDelay >= 0, metricsMaxAgeMs >= 0 else {
            throw ValidationError("--event-buffer, --event-queue and --sse-heartbeat must be at least 1, --stop-event-delay at least 0")
        }
        guard httpThreads >= 1, connectionLimit >= 1, perIPConnectionLimit >= 0, connectionTimeout >= 0,
              maxBodySize >= 0, maxHeaderSize >= 1024, idempotencyTtl >= 1, reconnectMaxDelayMs >= 250 else {
            throw ValidationError("limits must not be negative, threads and connection limit at least 1, --max-header-size at least 1024, --idempotency-ttl at least 1 and --reconnect-max-delay-ms at least 250")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let auditDestination = try AuditDestination(auditLog)
        LoggingSystem.bootstrap { label in
            // The audit log keeps to info whatever the level, and goes where it is told.
            if label == AuditDestination.label { return auditDestination.handler(label: label) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "virthostd")
        let address = try ListenAddress(listen)
        // Files are read here, before anything starts, so a bad one stops the start with its reason.
        let tokens = try tokensFile.map(Self.readTokens)
        let tls = try tlsConfiguration()
        Self.raiseOpenFileLimit()
        // libvirt writes to its socket with plain write(), and leaves SIGPIPE to the program
        // (virsh ignores it too): a libvirtd that dies mid-call would otherwise kill the
        // service with it. Every write then fails with EPIPE, which libvirt reports as an error.
        signal(SIGPIPE, SIG_IGN)

        let host = Host(configuration: .init(uri: uri, readOnly: readOnly, instancesPath: instancesPath,
                                             allowedDiskRoots: allowedDiskRoots,
                                             events: .init(bufferSize: eventBuffer, subscriberQueueSize: eventQueue,
                                                           stopEventDelay: .seconds(stopEventDelay)),
                                             metricsMaxAge: .milliseconds(metricsMaxAgeMs),
                                             maximumRetryDelay: .milliseconds(reconnectMaxDelayMs)),
                        logger: Logger(label: "virthost.host"))
        do {
            try await host.connect()
        } catch {
            // The service still starts: /readyz says 503 until libvirt answers.
            logger.warning("libvirt is not reachable yet", metadata: ["uri": "\(uri)", "error": "\(error)"])
        }

        if await !Firewall(host: host).baseFiltersPresent() {
            // Guests asking for the firewall are refused until the base filters are there.
            logger.warning("libvirt's base network filters are missing; firewall-enabled guests will be refused",
                           metadata: ["hint": "\(Firewall.installHint)"])
        }
        let api = API(host: host, eventHeartbeat: .seconds(sseHeartbeat),
                      idempotency: IdempotencyStore(configuration: .init(lifetime: .seconds(idempotencyTtl))),
                      audit: AuditLog(logger: Logger(label: AuditDestination.label)),
                      logger: Logger(label: "virthost.api"))
        let authenticator = Authenticator(tokens: tokens)
        var serverConfiguration = HTTPServer.Configuration(
            host: address.host, port: address.port, threads: httpThreads, connectionLimit: connectionLimit,
            perIPConnectionLimit: perIPConnectionLimit, connectionTimeout: connectionTimeout, maxBodySize: maxBodySize,
            connectionMemoryLimit: maxHeaderSize)
        serverConfiguration.onCompletion = api.onCompletion
        serverConfiguration.tls = tls
        serverConfiguration.admission = authenticator.admission
        serverConfiguration.browserSafety = BrowserSafety(allowedHosts: allowedHosts, allowedOrigins: allowedOrigins)
        let server = HTTPServer(
            configuration: serverConfiguration,
            router: api.router(),
            logger: Logger(label: "virthost.http")
        )
        let signals = SignalWatcher(signals: [SIGTERM, SIGINT])
        let hangups = SignalWatcher(signals: [SIGHUP])
        let port = try server.start()
        logger.info("listening on \(tls == nil ? "http" : "https")://\(address.urlHost):\(port)", metadata: [
            "auth": "\(tokens != nil ? "bearer tokens" : tlsClientCa != nil ? "mutual TLS" : "none")",
        ])
        let reloads = Task { [tokensFile] in
            for await _ in hangups.stream {
                guard let tokensFile else {
                    logger.info("SIGHUP: no tokens file to re-read")
                    continue
                }
                do {
                    let file = try Self.readTokens(tokensFile)
                    authenticator.replaceTokens(file)
                    logger.info("tokens file re-read", metadata: ["path": "\(tokensFile)", "tokens": "\(file.entries.count)"])
                } catch {
                    // A broken edit must not lock everyone out: the tokens in use stay.
                    logger.error("tokens file not re-read; the previous tokens stay in use",
                                 metadata: ["path": "\(tokensFile)", "error": "\(error)"])
                }
            }
        }

        let received = await signals.next()
        logger.info("shutting down", metadata: ["signal": "\(received)"])
        reloads.cancel()
        await server.shutdown()
        await host.disconnect()
        await EventLoop.shared.stop()
        logger.info("stopped")
    }

    static func readTokens(_ path: String) throws -> TokenFile {
        let text = try readTextFile(path, "tokens file")
        do {
            let file = try TokenFile(parsing: text)
            if file.entries.isEmpty { throw ValidationError("the tokens file \(path) has no tokens: nobody could call") }
            return file
        } catch let error as TokenFile.ParseError {
            throw ValidationError("tokens file \(path), \(error)")
        }
    }

    private func tlsConfiguration() throws -> TLSConfiguration? {
        guard let tlsCert, let tlsKey else { return nil }
        let read = Self.readTextFile
        return TLSConfiguration(certificatePEM: try read(tlsCert, "TLS certificate"),
                                privateKeyPEM: try read(tlsKey, "TLS key"),
                                clientCAPEM: try tlsClientCa.map { try read($0, "client CA file") },
                                priorities: tlsPriorities, clientCertificateOptionalPaths: Scope.publicPaths)
    }

    /// Each client is a file descriptor; the usual soft limit (1024) is far below what the
    /// connection limit allows, so take the hard limit.
    private static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// `HOST:PORT`, with IPv6 hosts in brackets (`[::1]:8080`).
struct ListenAddress {
    let host: String
    let port: UInt16

    init(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw ValidationError("--listen must be HOST:PORT, got \(text)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("--listen must name a host, got \(text)") }
        self.host = host
        self.port = port
    }

    var urlHost: String { host.contains(":") ? "[\(host)]" : host }

    /// 127.0.0.0/8, ::1 or localhost: only this machine can connect.
    var isLoopback: Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return false
    }
}

/// Turns SIGTERM/SIGINT into an awaitable event instead of the default termination.
final class SignalWatcher {
    let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    func next() async -> Int32 {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next() ?? SIGTERM
    }
}

extension VirtHostD {
    /// A configuration file's text, or a start-stopping error that says why not in the
    /// system's words ("No such file or directory", "Permission denied").
    static func readTextFile(_ path: String, _ what: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ValidationError("cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw ValidationError("cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ValidationError("the \(what) \(path) is not UTF-8 text")
        }
        return text
    }
}

extension String {
    fileprivate var trimmed: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
