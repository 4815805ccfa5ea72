import FoundationEssentials
import GuestConfig
import HTTPServer
import VirtHost

/// `/v1/operations`: long-running operations, and the storage endpoints that start them
/// (volume clone, wipe-and-delete). An endpoint that starts one answers 202 with `Location`
/// and the operation; with an `Idempotency-Key`, a retry gets the same operation.
struct OperationRoutes {
    let operations: Operations
    let idempotency: IdempotentRequest
    var volumeJobs: VolumeJobs { VolumeJobs(operations: operations) }

    struct OperationList: Encodable {
        let operations: [OperationDocument]
    }

    func register(in router: inout Router) {
        router.get("/v1/operations") { [operations] request in
            var state: Operation.State?
            if let text = request.query("state") {
                guard let wanted = Operation.State(rawValue: text) else {
                    throw Problem.badRequest("state must be one of "
                                             + Operation.State.allCases.map(\.rawValue).joined(separator: ", "),
                                             parameter: "state")
                }
                state = wanted
            }
            let domain = request.query("domain").flatMap { $0.isEmpty ? nil : $0 }
            return .json(OperationList(operations: operations.list(state: state, domain: domain).map(OperationDocument.init)))
        }
        router.get("/v1/operations/{id}") { [operations] request in
            .json(OperationDocument(try operations.operation(request.pathParameter("id") ?? "")))
        }
        router.post("/v1/operations/{id}/cancel", options: RouteOptions(access: .write, idempotent: true)) {
            [operations, idempotency] request in
            try await idempotency.run(request) {
                Self.accepted(try operations.cancel(request.pathParameter("id") ?? ""))
            }
        }
        router.post("/v1/storage/pools/{pool}/volumes/{volume}/clone", options: .jsonBody(idempotent: true)) {
            [volumeJobs, idempotency] request in
            try await idempotency.run(request) {
                let pool = try StorageRoutes.name(request, "pool"), volume = try StorageRoutes.name(request, "volume")
                let clone = try StorageRoutes.checked { () throws(GuestSpecError) in try VolumeClone.read(json: request.body) }
                return Self.accepted(try await volumeJobs.clone(pool: pool, volume: volume, name: clone.name,
                                                                targetPool: clone.pool ?? pool))
            }
        }
    }

    /// `DELETE .../volumes/{volume}?wipe=true`, reached through the storage routes' delete.
    func wipeAndDelete(_ request: Request, pool: String, volume: String) async throws -> Response {
        try await idempotency.run(request) {
            Self.accepted(try await volumeJobs.wipeAndDelete(pool: pool, volume: volume))
        }
    }

    static func accepted(_ operation: Operation) -> Response {
        var response = Response.json(OperationDocument(operation), status: 202)
        response.headers.add("Location", "/v1/operations/\(operation.id)")
        return response
    }

    /// The problem document a failed job's error becomes, as its operation shows it.
    static func describe(_ error: any Error) -> Operation.Failure {
        let problem: Problem = (error as? any ProblemConvertible)?.problem
            ?? Problem(type: Problem.type(APIProblem.operationFailed), title: "Operation Failed", status: 500,
                       detail: "\(error)")
        var extensions: [String: String] = [:]
        for (name, value) in problem.extensions { if case .string(let text) = value { extensions[name] = text } }
        return Operation.Failure(type: problem.type, title: problem.title, status: problem.status,
                                 detail: problem.detail ?? problem.title, extensions: extensions)
    }
}

/// An operation as JSON: `{id, kind, target, state, progress, created_at, updated_at,
/// finished_at, error, result, cancel_requested}`.
struct OperationDocument: Encodable {
    let operation: Operation

    init(_ operation: Operation) { self.operation = operation }

    enum CodingKeys: String, CodingKey {
        case id, kind, target, state, progress, error, result
        case createdAt = "created_at", updatedAt = "updated_at", finishedAt = "finished_at"
        case cancelRequested = "cancel_requested"
    }

    enum TargetKeys: String, CodingKey { case domain, uuid, pool, volume }
    enum ProgressKeys: String, CodingKey {
        case percent, phase, memory, disk, iteration
        case processedBytes = "processed_bytes", totalBytes = "total_bytes", remainingBytes = "remaining_bytes"
    }
    enum ResultKeys: String, CodingKey { case volume, snapshot, migration }
    enum TransferKeys: String, CodingKey { case total, processed, remaining }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(operation.id, forKey: .id)
        try container.encode(operation.kind, forKey: .kind)
        var target = container.nestedContainer(keyedBy: TargetKeys.self, forKey: .target)
        switch operation.target {
        case .domain(let name, let uuid):
            try target.encode(name, forKey: .domain)
            try target.encode(uuid, forKey: .uuid)
        case .volume(let pool, let volume):
            try target.encode(pool, forKey: .pool)
            try target.encode(volume, forKey: .volume)
        }
        try container.encode(operation.state.rawValue, forKey: .state)
        if let progress = operation.progress {
            var nested = container.nestedContainer(keyedBy: ProgressKeys.self, forKey: .progress)
            try Self.encodeOrNull(progress.percent, &nested, .percent)
            try Self.encodeOrNull(progress.processedBytes, &nested, .processedBytes)
            try Self.encodeOrNull(progress.totalBytes, &nested, .totalBytes)
            try Self.encodeOrNull(progress.remainingBytes, &nested, .remainingBytes)
            try Self.encodeOrNull(progress.phase, &nested, .phase)
            // A migration's figures; other operations have none, and say nothing of them.
            for (transfer, key) in [(progress.memory, ProgressKeys.memory), (progress.disk, .disk)] {
                guard let transfer else { continue }
                var figures = nested.nestedContainer(keyedBy: TransferKeys.self, forKey: key)
                try figures.encode(transfer.total, forKey: .total)
                try figures.encode(transfer.processed, forKey: .processed)
                try figures.encode(transfer.remaining, forKey: .remaining)
            }
            try nested.encodeIfPresent(progress.iteration, forKey: .iteration)
        } else {
            try container.encodeNil(forKey: .progress)
        }
        try container.encode(operation.createdAt, forKey: .createdAt)
        try container.encode(operation.updatedAt, forKey: .updatedAt)
        try Self.encodeOrNull(operation.finishedAt, &container, .finishedAt)
        if let failure = operation.error {
            var members: [String: JSONValue] = failure.extensions.mapValues { .string($0) }
            members["type"] = .string(failure.type)
            members["title"] = .string(failure.title)
            members["status"] = .int(failure.status)
            members["detail"] = .string(failure.detail)
            try container.encode(JSONValue.object(members), forKey: .error)
        } else {
            try container.encodeNil(forKey: .error)
        }
        switch operation.result {
        case .volume(let volume)?:
            var nested = container.nestedContainer(keyedBy: ResultKeys.self, forKey: .result)
            try nested.encode(volume, forKey: .volume)
        case .snapshot(let snapshot)?:
            var nested = container.nestedContainer(keyedBy: ResultKeys.self, forKey: .result)
            try nested.encode(snapshot, forKey: .snapshot)
        case .migration(let migration)?:
            var nested = container.nestedContainer(keyedBy: ResultKeys.self, forKey: .result)
            try nested.encode(migration, forKey: .migration)
        case nil:
            try container.encodeNil(forKey: .result)
        }
        try container.encode(operation.cancelRequested, forKey: .cancelRequested)
    }

    private static func encodeOrNull<T: Encodable, K: CodingKey>(_ value: T?, _ container: inout KeyedEncodingContainer<K>,
                                                                 _ key: K) throws {
        if let value { try container.encode(value, forKey: key) } else { try container.encodeNil(forKey: key) }
    }
}

extension OperationError: ProblemConvertible {
    public var problem: Problem {
        switch self {
        case .notFound(let id):
            Problem(type: Problem.type(APIProblem.operationNotFound), title: "Operation Not Found", status: 404,
                    detail: description, extensions: ["operation": .string(id)])
        case .finished(let id, let state):
            Problem(type: Problem.type(APIProblem.operationFinished), title: "Operation Finished", status: 409,
                    detail: description, extensions: ["operation": .string(id), "state": .string(state.rawValue)])
        case .cancelled:
            // Never an answer: a job throws it to end its operation `cancelled`.
            Problem(type: Problem.type(APIProblem.operationFinished), title: "Operation Finished", status: 409,
                    detail: description, extensions: ["state": .string("cancelled")])
        }
    }
}

extension APIProblem {
    static let operationNotFound = "operation-not-found"
    static let operationFinished = "operation-finished"
}
