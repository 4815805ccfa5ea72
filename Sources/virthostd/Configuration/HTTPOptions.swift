import ArgumentParser
import HTTPServer

/// The HTTP server: where it listens, its limits, and who may call it from a browser.
struct HTTPOptions: ParsableArguments {
    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one). Env: VIRTHOST_LISTEN.")
    var listen: String = Environment.value("VIRTHOST_LISTEN", default: "127.0.0.1:8080")

    @Option(help: "libmicrohttpd threads (1 = one poll thread). Env: VIRTHOST_HTTP_THREADS.")
    var httpThreads: Int = Environment.value("VIRTHOST_HTTP_THREADS", default: 1)

    @Option(help: "Most connections at once. Env: VIRTHOST_CONNECTION_LIMIT.")
    var connectionLimit: Int = Environment.value("VIRTHOST_CONNECTION_LIMIT", default: 4096)

    @Option(help: "Most connections from one client address (0 = no limit). Env: VIRTHOST_PER_IP_CONNECTION_LIMIT.")
    var perIPConnectionLimit: Int = Environment.value("VIRTHOST_PER_IP_CONNECTION_LIMIT", default: 0)

    @Option(help: "Seconds an idle connection is kept. Env: VIRTHOST_CONNECTION_TIMEOUT.")
    var connectionTimeout: Int = Environment.value("VIRTHOST_CONNECTION_TIMEOUT", default: 30)

    /// 2 MiB: room for a guest spec carrying more first-boot data than it may, so that even 1 MiB
    /// of user data is refused at its field rather than as a body too large.
    @Option(help: "Largest request body in bytes (larger gets 413). Env: VIRTHOST_MAX_BODY_SIZE.")
    var maxBodySize: Int = Environment.value("VIRTHOST_MAX_BODY_SIZE", default: 2 << 20)

    @Option(help: "Memory per connection in bytes, which bounds the request line and headers (larger get 431). Env: VIRTHOST_MAX_HEADER_SIZE.")
    var maxHeaderSize: Int = Environment.value("VIRTHOST_MAX_HEADER_SIZE", default: 16 * 1024)

    @Option(name: .customLong("allowed-host"), parsing: .singleValue,
            help: "A host name the Host header may carry beyond the listening address, localhost and loopback (repeatable; defeats DNS rebinding). Env: VIRTHOST_ALLOWED_HOSTS (comma-separated).")
    var allowedHosts: [String] = Environment.list("VIRTHOST_ALLOWED_HOSTS", separator: ",").map(\.trimmedOfSpaces)

    @Option(name: .customLong("allowed-origin"), parsing: .singleValue,
            help: "A web origin (scheme://host[:port]) that may call the service from a browser, with CORS (repeatable; others get 403). Env: VIRTHOST_ALLOWED_ORIGINS (comma-separated).")
    var allowedOrigins: [String] = Environment.list("VIRTHOST_ALLOWED_ORIGINS", separator: ",").map(\.trimmedOfSpaces)

    func validate() throws {
        _ = try ListenAddress(listen)
        for origin in allowedOrigins {
            let rest = origin.hasPrefix("http://") ? origin.dropFirst(7) : origin.hasPrefix("https://") ? origin.dropFirst(8) : nil
            guard let rest, !rest.isEmpty, !rest.contains("/") else {
                throw ValidationError("--allowed-origin (VIRTHOST_ALLOWED_ORIGINS) must be scheme://host[:port] with scheme http or https, got \(origin)")
            }
        }
        for name in allowedHosts where name.isEmpty || name.contains("/") || name.contains(" ") {
            throw ValidationError("--allowed-host (VIRTHOST_ALLOWED_HOSTS) must be a host name, got \(name)")
        }
        try Require.atLeast(1, httpThreads, "--http-threads", "VIRTHOST_HTTP_THREADS")
        try Require.atLeast(1, connectionLimit, "--connection-limit", "VIRTHOST_CONNECTION_LIMIT")
        try Require.atLeast(0, perIPConnectionLimit, "--per-ip-connection-limit", "VIRTHOST_PER_IP_CONNECTION_LIMIT")
        try Require.atLeast(0, connectionTimeout, "--connection-timeout", "VIRTHOST_CONNECTION_TIMEOUT")
        try Require.atLeast(0, maxBodySize, "--max-body-size", "VIRTHOST_MAX_BODY_SIZE")
        try Require.atLeast(1024, maxHeaderSize, "--max-header-size", "VIRTHOST_MAX_HEADER_SIZE")
    }

    var address: ListenAddress { get throws { try ListenAddress(listen) } }

    func configuration() throws -> HTTPServer.Configuration {
        let address = try address
        var configuration = HTTPServer.Configuration(
            host: address.host, port: address.port, threads: httpThreads, connectionLimit: connectionLimit,
            perIPConnectionLimit: perIPConnectionLimit, connectionTimeout: connectionTimeout, maxBodySize: maxBodySize,
            connectionMemoryLimit: maxHeaderSize)
        configuration.browserSafety = BrowserSafety(allowedHosts: allowedHosts, allowedOrigins: allowedOrigins)
        return configuration
    }
}

extension String {
    fileprivate var trimmedOfSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
