import Glibc
import HTTPServer
import Logging
import ServiceLifecycle
import VirtHost
import VirtHostAPI

/// The HTTP server as a service: listens when the group starts, and at graceful shutdown
/// stops accepting, ends event streams and lets in-flight requests finish
/// (``HTTPServer/shutdown()``) before the services it needs stop.
struct HTTPServerService: Service {
    let server: HTTPServer
    let logger: Logger
    /// Told the bound port (port 0 picks a free one).
    let listening: @Sendable (UInt16) -> Void

    func run() async throws {
        listening(try server.start())
        try? await gracefulShutdown()
        logger.info("shutting down")
        await server.shutdown()
    }
}

/// Re-reads the tokens file on SIGHUP. A broken edit must not lock everyone out: the tokens
/// in use then stay.
struct TokenReloadService: Service {
    let tokensFile: String?
    let authenticator: Authenticator
    let logger: Logger

    func run() async throws {
        let hangups = SignalWatcher(signals: [SIGHUP])
        for await _ in hangups.stream.cancelOnGracefulShutdown() {
            guard let tokensFile else {
                logger.info("SIGHUP: no tokens file to re-read")
                continue
            }
            do {
                let file = try VirtHostD.readTokens(tokensFile)
                authenticator.replaceTokens(file)
                logger.info("tokens file re-read", metadata: ["path": "\(tokensFile)", "tokens": "\(file.entries.count)"])
            } catch {
                logger.error("tokens file not re-read; the previous tokens stay in use",
                             metadata: ["path": "\(tokensFile)", "error": "\(error)"])
            }
        }
    }
}
