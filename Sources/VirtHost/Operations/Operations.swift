import FoundationEssentials
import Locking

/// The registry of long-running operations: each one's state machine (running, then
/// succeeded, failed or cancelled), its progress, its cancel, and its events on the Host's
/// hub. Finished operations are kept for ``Configuration/retention``, at most
/// ``Configuration/capacity`` of them; a restart of the service forgets them all.
///
/// A job's body is async and makes its blocking libvirt calls on a dedicated connection
/// (``Host/withDedicatedConnection(threadName:_:)``), never on the Host's thread.
public final class Operations: Sendable {
    public struct Configuration: Sendable {
        /// How long a finished operation stays listed.
        public var retention: Duration
        /// At most this many finished operations are kept; the oldest go first.
        public var capacity: Int
        /// How often progress is sampled and, at most, sent as an event.
        public var progressInterval: Duration

        public init(retention: Duration = .seconds(3600), capacity: Int = 1000,
                    progressInterval: Duration = .milliseconds(500)) {
            self.retention = retention
            self.capacity = max(capacity, 0)
            self.progressInterval = progressInterval
        }
    }

    public typealias Describe = @Sendable (any Error) -> Operation.Failure

    public let host: Host
    public let configuration: Configuration
    let describe: Describe

    struct Entry {
        var operation: Operation
        var finishedAt: ContinuousClock.Instant?
        var lastProgressEvent: ContinuousClock.Instant?
        var onCancel: (@Sendable () async -> Void)?
    }

    struct State {
        var entries: [String: Entry] = [:]
        /// Ids in the order the operations started.
        var order: [String] = []
    }
    let state = Mutex(State())

    /// `describe` turns a job's error into the problem document its operation shows.
    public init(host: Host, configuration: Configuration = .init(), describe: Describe? = nil) {
        self.host = host
        self.configuration = configuration
        self.describe = describe ?? { error in
            Operation.Failure(type: "https://virthost.dev/problems/operation-failed", title: "Operation Failed",
                              status: 500, detail: "\(error)")
        }
    }

    /// Registers an operation and starts `job` in a task of its own; returns the running
    /// operation at once. `sample` is called every ``Configuration/progressInterval`` while
    /// the job runs, and `onCancel` once when a cancel is asked for; the job itself checks
    /// ``OperationContext/isCancelRequested`` at its safe points, undoes what it made, and
    /// throws ``OperationError/cancelled``.
    public func start(kind: String, target: Operation.Target, progress: Operation.Progress? = nil,
                      sample: (@Sendable () async -> Operation.Progress?)? = nil,
                      onCancel: (@Sendable () async -> Void)? = nil,
                      _ job: @escaping @Sendable (OperationContext) async throws -> Operation.Result?) -> Operation {
        let now = Date()
        let operation = Operation(id: UUID().uuidString.lowercased(), kind: kind, target: target, state: .running,
                                  progress: progress, createdAt: now, updatedAt: now, finishedAt: nil, error: nil,
                                  result: nil, cancelRequested: false)
        state.withLock { state in
            state.entries[operation.id] = Entry(operation: operation, onCancel: onCancel)
            state.order.append(operation.id)
            prune(&state)
        }
        publish(operation)
        let context = OperationContext(id: operation.id, operations: self)
        Task { [self] in
            let sampler = sample.map { sample in
                Task { [self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: configuration.progressInterval)
                        if Task.isCancelled { return }
                        if let progress = await sample() { report(operation.id, progress) }
                    }
                }
            }
            let outcome: Swift.Result<Operation.Result?, any Error>
            do { outcome = .success(try await job(context)) } catch { outcome = .failure(error) }
            sampler?.cancel()
            finish(operation.id, outcome)
        }
        return operation
    }

    /// The operation of this id.
    public func operation(_ id: String) throws(OperationError) -> Operation {
        let found = state.withLock { state -> Operation? in
            prune(&state)
            return state.entries[id]?.operation
        }
        guard let found else { throw .notFound(id) }
        return found
    }

    /// Every operation kept, newest first; `state` and `domain` (a name or UUID) narrow it.
    public func list(state wanted: Operation.State? = nil, domain: String? = nil) -> [Operation] {
        let domain = domain?.lowercased()
        let all = state.withLock { state -> [Operation] in
            prune(&state)
            return state.order.reversed().compactMap { state.entries[$0]?.operation }
        }
        return all.filter { operation in
            if let wanted, operation.state != wanted { return false }
            if let domain {
                guard let target = operation.domain,
                      target.name.lowercased() == domain || target.uuid.lowercased() == domain else { return false }
            }
            return true
        }
    }

    /// Asks the operation to stop; it ends `cancelled` once its job has undone its work.
    /// Refused when it has finished. Asking twice is asking once.
    @discardableResult
    public func cancel(_ id: String) throws(OperationError) -> Operation {
        let outcome = state.withLock { state -> Swift.Result<(Operation, (@Sendable () async -> Void)?), OperationError> in
            guard var entry = state.entries[id] else { return .failure(.notFound(id)) }
            guard !entry.operation.state.isFinished else {
                return .failure(.finished(id: id, state: entry.operation.state))
            }
            let first = !entry.operation.cancelRequested
            entry.operation.cancelRequested = true
            if first { entry.operation.updatedAt = Date() }
            let handler = first ? entry.onCancel : nil
            entry.onCancel = nil
            state.entries[id] = entry
            return .success((entry.operation, handler))
        }
        let (operation, handler) = try outcome.get()
        publish(operation)
        if let handler { Task { await handler() } }
        return operation
    }

    func isCancelRequested(_ id: String) -> Bool {
        state.withLock { $0.entries[id]?.operation.cancelRequested ?? false }
    }

    /// Records progress; an event goes out at most once per ``Configuration/progressInterval``.
    func report(_ id: String, _ progress: Operation.Progress) {
        let now = ContinuousClock.now
        let changed = state.withLock { state -> Operation? in
            guard var entry = state.entries[id], !entry.operation.state.isFinished,
                  entry.operation.progress != progress else { return nil }
            entry.operation.progress = progress
            entry.operation.updatedAt = Date()
            // A little slack: samples taken every interval must not miss every other event.
            let due = entry.lastProgressEvent.map { now - $0 >= configuration.progressInterval * 0.9 } ?? true
            if due { entry.lastProgressEvent = now }
            state.entries[id] = entry
            return due ? entry.operation : nil
        }
        if let changed { publish(changed) }
    }

    private func finish(_ id: String, _ outcome: Swift.Result<Operation.Result?, any Error>) {
        let finished = state.withLock { state -> Operation? in
            guard var entry = state.entries[id] else { return nil }
            let now = Date()
            switch outcome {
            case .success(let result):
                entry.operation.state = .succeeded
                entry.operation.result = result
            case .failure(OperationError.cancelled):
                entry.operation.state = .cancelled
            case .failure(let error):
                entry.operation.state = .failed
                entry.operation.error = describe(error)
            }
            entry.operation.updatedAt = now
            entry.operation.finishedAt = now
            entry.finishedAt = .now
            entry.onCancel = nil
            state.entries[id] = entry
            prune(&state)
            return entry.operation
        }
        if let finished { publish(finished) }
    }

    /// Drops finished operations past their retention, then those finished longest ago while
    /// more than ``Configuration/capacity`` are kept. Running operations always stay.
    private func prune(_ state: inout State) {
        let now = ContinuousClock.now
        var finished: [(id: String, at: ContinuousClock.Instant)] = []
        for id in state.order {
            guard let finishedAt = state.entries[id]?.finishedAt else { continue }
            if now - finishedAt >= configuration.retention {
                state.entries[id] = nil
            } else {
                finished.append((id, finishedAt))
            }
        }
        // The ones that finished longest ago go first.
        if finished.count > configuration.capacity {
            for old in finished.sorted(by: { $0.at < $1.at }).prefix(finished.count - configuration.capacity) {
                state.entries[old.id] = nil
            }
        }
        if state.order.count != state.entries.count { state.order.removeAll { state.entries[$0] == nil } }
    }

    private func publish(_ operation: Operation) {
        let domain = operation.domain
        host.events.publish(HostEvent(kind: .operation, domainName: domain?.name, domainUUID: domain?.uuid,
                                      operation: operation))
    }
}

/// What a running job sees of its operation.
public struct OperationContext: Sendable {
    public let id: String
    let operations: Operations

    /// A cancel was asked for: stop at the next safe point, undo, throw ``OperationError/cancelled``.
    public var isCancelRequested: Bool { operations.isCancelRequested(id) }

    public func report(_ progress: Operation.Progress) { operations.report(id, progress) }
}
