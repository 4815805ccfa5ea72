import FoundationEssentials

/// One long-running piece of work as clients see it (`/v1/operations/{id}`): a volume clone, a
/// wipe, or a libvirt job found running on a domain. A value: the registry hands out copies.
public struct Operation: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, CaseIterable {
        case running, succeeded, failed, cancelled

        public var isFinished: Bool { self != .running }
    }

    /// What the operation works on.
    public enum Target: Sendable, Hashable {
        case domain(name: String, uuid: String)
        case volume(pool: String, volume: String)
    }

    /// How far it got. Every figure is optional: a job may know its phase and nothing else.
    public struct Progress: Sendable, Hashable {
        /// Bytes of one kind a job moves (a migration's memory, its disks).
        public struct Transfer: Sendable, Hashable {
            public var total: UInt64
            public var processed: UInt64
            public var remaining: UInt64
        }

        public var processedBytes: UInt64?
        public var totalBytes: UInt64?
        public var remainingBytes: UInt64?
        public var phase: String?
        /// A migration's memory and disks, and its pass over memory (the first is 1).
        public var memory: Transfer?
        public var disk: Transfer?
        public var iteration: UInt64?

        public init(processedBytes: UInt64? = nil, totalBytes: UInt64? = nil, remainingBytes: UInt64? = nil,
                    phase: String? = nil) {
            self.processedBytes = processedBytes
            self.totalBytes = totalBytes
            self.remainingBytes = remainingBytes
            self.phase = phase
        }

        /// 0 to 100, when the total is known.
        public var percent: Double? {
            guard let totalBytes, totalBytes > 0, let processedBytes else { return nil }
            return min(100, Double(processedBytes) * 100 / Double(totalBytes))
        }
    }

    /// Why it failed, as the problem document the API shows; made by the registry's
    /// `describe` (the API turns errors into problems; VirtHost knows no HTTP).
    public struct Failure: Sendable, Hashable {
        public var type: String
        public var title: String
        public var status: Int
        public var detail: String
        /// The problem's string-valued extension members (`pool`, `volume`, …).
        public var extensions: [String: String]

        public init(type: String, title: String, status: Int, detail: String, extensions: [String: String] = [:]) {
            self.type = type
            self.title = title
            self.status = status
            self.detail = detail
            self.extensions = extensions
        }
    }

    /// What a finished operation made.
    public enum Result: Sendable, Hashable {
        case volume(StorageVolumeDetails)
        case snapshot(SnapshotDetails)
        case migration(MigrationOutcome)
    }

    public var id: String
    /// `volume-clone`, `volume-wipe`, `unknown-job`, …
    public var kind: String
    public var target: Target
    public var state: State
    public var progress: Progress?
    public var createdAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    public var error: Failure?
    public var result: Result?
    /// A cancel was asked for; the work stops at its next safe point.
    public var cancelRequested: Bool

    /// The domain's name and UUID when the target is a domain, for event filters.
    public var domain: (name: String, uuid: String)? {
        if case .domain(let name, let uuid) = target { return (name, uuid) }
        return nil
    }
}

/// Why an operation request is refused.
public enum OperationError: Error, Sendable, CustomStringConvertible {
    case notFound(String)
    /// It has finished already, so there is nothing to cancel.
    case finished(id: String, state: Operation.State)
    /// The work was stopped on request; the job throws it once it has undone what it made.
    case cancelled

    public var description: String {
        switch self {
        case .notFound(let id): "no operation \(id)"
        case .finished(let id, let state): "operation \(id) has finished already (\(state.rawValue))"
        case .cancelled: "cancelled on request"
        }
    }
}
