import ArgumentParser
import Dispatch
import FoundationEssentials
import Glibc
import HTTPServer
import Libvirt
import Logging
import ServiceLifecycle
import VirtHost
import VirtHostAPI

/// The service's entry point and the one place configuration is read: flags, each with an
/// environment variable as its default, declared per component in Configuration/ and handed
/// down as values.
@main
struct VirtHostD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "virthostd",
        abstract: "Serves a libvirt host's and its guests' operations as an HTTP/JSON API."
    )

    // Each component's settings, with their flags, environment variables, defaults and
    // checks, in a file of its own (Configuration/).
    @OptionGroup(title: "libvirt host") var hostOptions: HostOptions
    @OptionGroup(title: "HTTP server") var http: HTTPOptions
    @OptionGroup(title: "Access") var access: AccessOptions
    @OptionGroup(title: "API") var api: APIOptions
    @OptionGroup(title: "Logging") var logging: LoggingOptions

    /// What involves more than one component.
    func validate() throws {
        try Environment.refuseUnparsed()
        if !(try http.address).isLoopback, !access.authenticates, !access.insecureNoAuth {
            throw ValidationError("""
                refusing to listen on \(http.listen) without authentication: anyone who reaches the port could \
                create and destroy guests. Give --tokens-file (bearer tokens) or --tls-client-ca (mutual TLS), \
                listen on loopback, or pass --insecure-no-auth to accept the risk.
                """)
        }
    }

    func run() async throws {
        let level = logging.level
        let auditDestination = try AuditDestination(logging.auditLog)
        LoggingSystem.bootstrap { label in
            // The audit log keeps to info whatever the level, and goes where it is told.
            if label == AuditDestination.label { return auditDestination.handler(label: label) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "virthostd")
        let address = try http.address
        // Files are read here, before anything starts, so a bad one stops the start with its reason.
        let tokensFile = access.tokensFile
        let tokens = try tokensFile.map(Self.readTokens)
        let tls = try access.tlsConfiguration()
        Self.raiseOpenFileLimit()
        // libvirt writes to its socket with plain write(), and leaves SIGPIPE to the program
        // (virsh ignores it too): a libvirtd that dies mid-call would otherwise kill the
        // service with it. Every write then fails with EPIPE, which libvirt reports as an error.
        signal(SIGPIPE, SIG_IGN)

        let host = Host(configuration: hostOptions.configuration, logger: Logger(label: "virthost.host"))
        var api = API(host: host, eventHeartbeat: .seconds(self.api.sseHeartbeat),
                      idempotency: IdempotencyStore(configuration: .init(lifetime: .seconds(self.api.idempotencyTtl))),
                      audit: AuditLog(logger: Logger(label: AuditDestination.label)),
                      operations: .init(retention: .seconds(self.api.operationRetention)),
                      consoleTickets: ConsoleTickets(configuration: .init(timeToLive: .seconds(self.api.consoleTicketTtl))),
                      consoleIdleTimeout: self.api.consoleIdleTimeout == 0 ? nil : .seconds(self.api.consoleIdleTimeout),
                      logger: Logger(label: "virthost.api"))
        api.agent = self.api.agentConfiguration
        api.migration = self.api.migrationConfiguration
        let operations = api.operations
        let authenticator = Authenticator(tokens: tokens)
        var serverConfiguration = try http.configuration()
        serverConfiguration.onCompletion = api.onCompletion
        serverConfiguration.tls = tls
        serverConfiguration.admission = authenticator.admission
        let server = HTTPServer(
            configuration: serverConfiguration,
            router: api.router(),
            logger: Logger(label: "virthost.http")
        )
        let listening = "listening on \(tls == nil ? "http" : "https")://\(address.urlHost)"
        let auth = access.authDescription

        // Started in this order, stopped in reverse on SIGTERM/SIGINT: the HTTP server drains
        // first, then the Host lets go of libvirt, then libvirt's event loop stops.
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: LibvirtEventLoopService()),
                .init(service: HostService(host: host, logger: Logger(label: "virthost.host"))),
                .init(service: TokenReloadService(tokensFile: tokensFile, authenticator: authenticator, logger: logger)),
                .init(service: HTTPServerService(server: server, logger: logger) { port in
                    logger.info("\(listening):\(port)", metadata: ["auth": "\(auth)"])
                    // Jobs libvirt runs that an earlier run started: listed as `unknown-job`.
                    Task { [operations] in
                        do {
                            let adopted = try await operations.adoptRunningJobs()
                            if !adopted.isEmpty { logger.info("libvirt jobs found running", metadata: ["count": "\(adopted.count)"]) }
                        } catch {
                            logger.warning("cannot look for running libvirt jobs", metadata: ["error": "\(error)"])
                        }
                    }
                }),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "virthost.lifecycle")
        ))
        try await group.run()
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

/// Turns signals (SIGHUP) into an async stream instead of their default action. SIGTERM and
/// SIGINT are the service group's (graceful shutdown).
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
