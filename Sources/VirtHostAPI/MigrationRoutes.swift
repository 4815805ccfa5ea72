import GuestConfig
import HTTPServer
import VirtHost

/// `/v1/domains/{ref}/migration-check`, `/migrate`, `/migration/postcopy` and
/// `/migration/tuning`: live migration to another libvirt, checked first and run as an
/// operation (202). All of them need the `write` scope: even the check connects to another host.
struct MigrationRoutes {
    let migrations: Migrations
    let idempotency: IdempotentRequest

    func register(in router: inout Router) {
        router.get("/v1/domains/{ref}/migration-check", options: RouteOptions(access: .write)) { [migrations] request in
            .json(try await migrations.check(domain: request.pathParameter("ref") ?? "", try Self.checkRequest(request)))
        }
        router.post("/v1/domains/{ref}/migrate", options: .jsonBody(idempotent: true)) { [migrations, idempotency] request in
            try await idempotency.run(request) {
                let migration = try Self.checked { () throws(GuestSpecError) in try MigrationRequest.read(json: request.body) }
                return OperationRoutes.accepted(try await migrations.migrate(domain: request.pathParameter("ref") ?? "",
                                                                             migration))
            }
        }
        router.post("/v1/domains/{ref}/migration/postcopy", options: RouteOptions(access: .write, idempotent: true)) {
            [migrations] request in
            .json(OperationDocument(try await migrations.startPostCopy(domain: request.pathParameter("ref") ?? "")))
        }
        router.post("/v1/domains/{ref}/migration/tuning", options: .jsonBody()) { [migrations] request in
            let tuning = try Self.checked { () throws(GuestSpecError) in try MigrationTuning.read(json: request.body) }
            return .json(OperationDocument(try await migrations.tune(domain: request.pathParameter("ref") ?? "", tuning)))
        }
    }

    /// The check's query: `destination` (required), `destination_uri`, `copy_storage`.
    static func checkRequest(_ request: Request) throws -> MigrationRequest {
        guard let destination = request.query("destination"), !destination.isEmpty else {
            throw Problem.badRequest("destination is required: the libvirt URI of the other host", parameter: "destination")
        }
        if let refusal = MigrationRequest.destinationRefusal(destination) {
            throw Problem.badRequest("destination \(refusal)", parameter: "destination")
        }
        var migration = MigrationRequest(destination: destination)
        if let uri = request.query("destination_uri") {
            if let refusal = MigrationRequest.streamURIRefusal(uri) {
                throw Problem.badRequest("destination_uri \(refusal)", parameter: "destination_uri")
            }
            migration.destinationURI = uri
        }
        if let copy = request.query("copy_storage") {
            guard let value = MigrationRequest.CopyStorage(rawValue: copy) else {
                throw Problem.badRequest("copy_storage must be one of none, all", parameter: "copy_storage")
            }
            migration.copyStorage = value
        }
        return migration
    }

    static func checked<T>(_ read: () throws(GuestSpecError) -> T) throws -> T {
        do { return try read() } catch { throw MigrationRequestError(errors: error) }
    }
}

/// A migration request whose fields are wrong: every field error at once, with its pointer.
struct MigrationRequestError: Error, ProblemConvertible {
    let errors: GuestSpecError

    var problem: Problem {
        var problem = errors.problem
        guard !errors.isMalformedJSON else { return problem }
        problem.type = Problem.type(APIProblem.invalidMigrationRequest)
        problem.title = "Invalid Migration Request"
        return problem
    }
}

extension MigrationError: ProblemConvertible {
    public var problem: Problem {
        switch self {
        case .destinationNotAllowed(let destination):
            Problem(type: Problem.type(APIProblem.migrationDestinationNotAllowed), title: "Migration Destination Not Allowed",
                    status: 403, detail: description,
                    extensions: ["destination": .string(destination), "pointer": .string("/destination")])
        case .refused(let plan):
            Problem(type: Problem.type(APIProblem.migrationRefused), title: "Migration Refused", status: 409,
                    detail: description,
                    extensions: ["domain": .string(plan.domainName),
                                 "problems": .array(plan.problems.map { .object(["code": .string($0.code),
                                                                                 "detail": .string($0.detail)]) })])
        case .notMigrating(let domain):
            Problem(type: Problem.type(APIProblem.notMigrating), title: "Not Migrating", status: 409, detail: description,
                    extensions: ["domain": .string(domain)])
        case .postcopyNotEnabled(let domain):
            Problem(type: Problem.type(APIProblem.postcopyNotEnabled), title: "Post-copy Not Enabled", status: 409,
                    detail: description, extensions: ["domain": .string(domain)])
        }
    }
}

extension APIProblem {
    static let invalidMigrationRequest = "invalid-migration-request"
    static let migrationDestinationNotAllowed = "migration-destination-not-allowed"
    static let migrationRefused = "migration-refused"
    static let notMigrating = "not-migrating"
    static let postcopyNotEnabled = "postcopy-not-enabled"
}
