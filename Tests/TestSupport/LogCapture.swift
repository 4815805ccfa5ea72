import Logging
import Locking

/// Collects what a logger writes, so tests can assert what was logged.
public final class LogCapture: Sendable {
    public struct Record: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]
    }

    private let stored = Mutex<[Record]>([])

    public init() {}

    public var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    public var records: [Record] { stored.withLock { $0 } }

    public func messages(at level: Logger.Level) -> [String] {
        records.filter { $0.level == level }.map(\.message)
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let values = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
            let record = Record(level: event.level, message: event.message.description, metadata: values)
            capture.stored.withLock { $0.append(record) }
        }
    }
}
