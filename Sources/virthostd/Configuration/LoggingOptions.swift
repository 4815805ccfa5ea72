import ArgumentParser
import Logging

/// The service's logs and the audit log.
struct LoggingOptions: ParsableArguments {
    @Option(help: "trace, debug, info, notice, warning, error or critical. Env: VIRTHOST_LOG_LEVEL.")
    var logLevel: String = Environment.value("VIRTHOST_LOG_LEVEL", default: "info")

    @Option(help: "Audit log: stderr, stdout, or a file to append JSON lines to. Env: VIRTHOST_AUDIT_LOG.")
    var auditLog: String = Environment.value("VIRTHOST_AUDIT_LOG", default: "stderr")

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level (VIRTHOST_LOG_LEVEL) must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \(logLevel)")
        }
    }

    var level: Logger.Level { Logger.Level(rawValue: logLevel) ?? .info }
}
