import GuestConfig
import HTTPServer
import VirtHost

/// `/v1/domains/{ref}/snapshots...`: internal snapshots, listed as a tree, reverted, deleted.
/// A snapshot with memory of a running guest is an operation (202); of a shut-off guest, 201.
/// A revert to a snapshot with memory is an operation too (202); to one without, a 200.
/// `/v1/domains/{ref}/save`: managed save (an operation) and its removal.
struct SnapshotRoutes {
    let snapshots: Snapshots
    var managedSave: ManagedSave { ManagedSave(operations: snapshots.operations) }
    let idempotency: IdempotentRequest

    struct SnapshotList: Encodable {
        let snapshots: [SnapshotDetails]
    }

    func register(in router: inout Router) {
        router.post("/v1/domains/{ref}/snapshots", options: .jsonBody(idempotent: true)) { [snapshots, idempotency] request in
            try await idempotency.run(request) {
                let reference = request.pathParameter("ref") ?? ""
                let creation = try Self.checked { () throws(GuestSpecError) in try SnapshotCreation.read(json: request.body) }
                switch try await snapshots.create(domain: reference, creation) {
                case .done(let snapshot):
                    var response = Response.json(snapshot, status: 201)
                    response.headers.add("Location", "/v1/domains/\(reference)/snapshots/\(snapshot.name)")
                    return response
                case .started(let operation):
                    return OperationRoutes.accepted(operation)
                }
            }
        }
        router.get("/v1/domains/{ref}/snapshots") { [snapshots] request in
            .json(SnapshotList(snapshots: try await snapshots.list(domain: request.pathParameter("ref") ?? "")))
        }
        router.get("/v1/domains/{ref}/snapshots/{name}") { [snapshots] request in
            let reference = request.pathParameter("ref") ?? "", name = request.pathParameter("name") ?? ""
            if try request.documentFormat(preferred: .json) == .xml {
                return .document(xml: try await snapshots.xml(domain: reference, name: name), as: .xml)
            }
            return .json(try await snapshots.snapshot(domain: reference, name: name))
        }
        // A revert to a snapshot with memory is an operation (202); to one without, done at once (200).
        router.post("/v1/domains/{ref}/snapshots/{name}/revert", options: .jsonBody(idempotent: true)) {
            [snapshots, idempotency] request in
            try await idempotency.run(request) {
                let options = try Self.checked { () throws(GuestSpecError) in try SnapshotRevert.read(json: request.body) }
                switch try await snapshots.revert(domain: request.pathParameter("ref") ?? "",
                                                  name: request.pathParameter("name") ?? "",
                                                  start: options.start, paused: options.paused) {
                case .done(let snapshot): return .json(snapshot)
                case .started(let operation): return OperationRoutes.accepted(operation)
                }
            }
        }
        router.delete("/v1/domains/{ref}/snapshots/{name}") { [snapshots] request in
            try await snapshots.delete(domain: request.pathParameter("ref") ?? "", name: request.pathParameter("name") ?? "",
                                       children: try request.bool("children", default: false))
            return Response(status: 204)
        }
        registerManagedSave(in: &router)
    }

    func registerManagedSave(in router: inout Router) {
        router.post("/v1/domains/{ref}/save", options: RouteOptions(access: .write, idempotent: true)) {
            [managedSave, idempotency] request in
            try await idempotency.run(request) {
                OperationRoutes.accepted(try await managedSave.save(domain: request.pathParameter("ref") ?? ""))
            }
        }
        router.delete("/v1/domains/{ref}/save") { [managedSave] request in
            try await managedSave.remove(domain: request.pathParameter("ref") ?? "")
            return Response(status: 204)
        }
    }

    static func checked<T>(_ read: () throws(GuestSpecError) -> T) throws -> T {
        do { return try read() } catch { throw SnapshotRequestError(errors: error) }
    }
}

/// A snapshot request whose fields are wrong: every field error at once, with its pointer.
struct SnapshotRequestError: Error, ProblemConvertible {
    let errors: GuestSpecError

    var problem: Problem {
        var problem = errors.problem
        guard !errors.isMalformedJSON else { return problem }
        problem.type = Problem.type(APIProblem.invalidSnapshotRequest)
        problem.title = "Invalid Snapshot Request"
        return problem
    }
}

extension SnapshotError: ProblemConvertible {
    public var problem: Problem {
        switch self {
        case .notFound(let domain, let snapshot):
            Problem(type: Problem.type(APIProblem.snapshotNotFound), title: "Snapshot Not Found", status: 404,
                    detail: description, extensions: ["domain": .string(domain), "snapshot": .string(snapshot)])
        case .exists(let domain, let snapshot):
            Problem(type: Problem.type(APIProblem.snapshotExists), title: "Snapshot Exists", status: 409,
                    detail: description, extensions: ["domain": .string(domain), "snapshot": .string(snapshot)])
        case .unsupportedDisks(let disks):
            // Field errors naming each disk, as for a bad request: nothing was done.
            Problem(type: Problem.type(APIProblem.invalidSnapshotRequest), title: "Invalid Snapshot Request", status: 422,
                    detail: description,
                    extensions: ["errors": .array(disks.map { disk in
                        .object(["pointer": .string(""), "disk": .string(disk.disk),
                                 "detail": .string("disk \(disk.disk) is \(disk.reason)")])
                    })])
        }
    }
}

extension APIProblem {
    static let invalidSnapshotRequest = "invalid-snapshot-request"
    static let snapshotNotFound = "snapshot-not-found"
    static let snapshotExists = "snapshot-exists"
}
