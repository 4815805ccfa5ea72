import FoundationEssentials
import Glibc
import Logging
import Locking

/// Where `--audit-log` sends the audit lines: standard error or output as log lines, or a file
/// of JSON objects, one a line, for whatever collects them. Always at info level.
enum AuditDestination: Sendable {
    case standardError
    case standardOutput
    case file(AuditFile)

    static let label = "virthost.audit"

    init(_ text: String) throws {
        switch text {
        case "stderr", "": self = .standardError
        case "stdout": self = .standardOutput
        default:
            guard text.hasPrefix("/") else {
                throw AuditFile.OpenError(description: "--audit-log must be stderr, stdout or an absolute path, got \(text)")
            }
            self = .file(try AuditFile(path: text))
        }
    }

    func handler(label: String) -> any LogHandler {
        switch self {
        case .standardError:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        case .standardOutput:
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = .info
            return handler
        case .file(let file):
            return AuditFileHandler(file: file)
        }
    }
}

/// An append-only file shared by every audit logger; writes are serialised by a lock.
final class AuditFile: Sendable {
    struct OpenError: Error, CustomStringConvertible { let description: String }

    private let descriptor: Mutex<Int32>

    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw OpenError(description: "cannot open the audit log \(path): \(String(cString: strerror(errno)))")
        }
        descriptor = Mutex(fd)
    }

    func append(_ line: [UInt8]) {
        descriptor.withLock { fd in
            line.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { if errno == EINTR { continue }; return }
                    offset += written
                }
            }
        }
    }
}

/// Writes each record as one JSON object: time, message and every metadata value.
struct AuditFileHandler: LogHandler {
    let file: AuditFile
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = ["time": Date().formatted(.iso8601), "event": event.message.description]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[key] = "\(value)" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(fields) else { return }
        file.append(Array(data) + [0x0A])
    }
}
