import GuestConfig
import HTTPServer
import VirtHost

/// `/v1/storage/pools...`: storage pools and their volumes.
struct StorageRoutes {
    let host: Host
    /// Where `?wipe=true` deletes go: they are operations.
    let operations: OperationRoutes
    var storage: Storage { Storage(host: host) }

    struct PoolList: Encodable {
        let pools: [StoragePoolDetails]
    }

    struct VolumeList: Encodable {
        let volumes: [StorageVolumeDetails]
    }

    func register(in router: inout Router) {
        router.get("/v1/storage/pools") { [storage] _ in
            .json(PoolList(pools: try await storage.pools()))
        }
        router.post("/v1/storage/pools", options: .jsonBody()) { [storage] request in
            let creation = try Self.checked { () throws(GuestSpecError) in
                try PoolCreation.read(json: request.body, policy: storage.validationPolicy)
            }
            let pool = try await storage.createPool(creation)
            var response = Response.json(pool, status: 201)
            response.headers.add("Location", "/v1/storage/pools/\(pool.name)")
            return response
        }
        router.get("/v1/storage/pools/{pool}") { [storage] request in
            .json(try await storage.pool(try Self.name(request, "pool")))
        }
        router.delete("/v1/storage/pools/{pool}") { [storage] request in
            try await storage.deletePool(try Self.name(request, "pool"))
            return Response(status: 204)
        }
        router.post("/v1/storage/pools/{pool}/refresh") { [storage] request in
            .json(try await storage.refreshPool(try Self.name(request, "pool")))
        }
        router.get("/v1/storage/pools/{pool}/volumes") { [storage] request in
            .json(VolumeList(volumes: try await storage.volumes(pool: try Self.name(request, "pool"))))
        }
        router.post("/v1/storage/pools/{pool}/volumes", options: .jsonBody()) { [storage] request in
            let pool = try Self.name(request, "pool")
            let creation = try Self.checked { () throws(GuestSpecError) in try VolumeCreation.read(json: request.body) }
            let volume: StorageVolumeDetails
            do {
                volume = try await storage.createVolume(pool: pool, creation)
            } catch let error as GuestSpecError {
                throw StorageRequestError(errors: error)
            }
            var response = Response.json(volume, status: 201)
            response.headers.add("Location", "/v1/storage/pools/\(pool)/volumes/\(volume.name)")
            return response
        }
        router.get("/v1/storage/pools/{pool}/volumes/{volume}") { [storage] request in
            .json(try await storage.volume(pool: try Self.name(request, "pool"), name: try Self.name(request, "volume")))
        }
        router.delete("/v1/storage/pools/{pool}/volumes/{volume}", options: RouteOptions(access: .write, idempotent: true)) {
            [storage, operations] request in
            // Only a wipe is an operation a key can stand for; a malformed key is refused either way.
            _ = try IdempotentRequest.key(of: request)
            if try request.bool("wipe", default: false) {
                return try await operations.wipeAndDelete(request, pool: try Self.name(request, "pool"),
                                                          volume: try Self.name(request, "volume"))
            }
            try await storage.deleteVolume(pool: try Self.name(request, "pool"), name: try Self.name(request, "volume"))
            return Response(status: 204)
        }
    }

    /// A pool or volume name from the path, held to the rule names are created with: a name
    /// with NUL would reach libvirt cut short, and name another object.
    static func name(_ request: Request, _ parameter: String) throws -> String {
        let name = request.pathParameter(parameter) ?? ""
        if let refusal = StorageName.referenceRefusal(of: name) {
            throw Problem.badRequest("the \(parameter) name \(refusal)", parameter: parameter)
        }
        return name
    }

    static func checked<T>(_ read: () throws(GuestSpecError) -> T) throws -> T {
        do { return try read() } catch { throw StorageRequestError(errors: error) }
    }
}

/// A storage request whose fields are wrong: every field error at once, with its pointer.
struct StorageRequestError: Error, ProblemConvertible {
    let errors: GuestSpecError

    var problem: Problem {
        var problem = errors.problem
        guard !errors.isMalformedJSON else { return problem }
        problem.type = Problem.type(APIProblem.invalidStorageRequest)
        problem.title = "Invalid Storage Request"
        return problem
    }
}

extension StorageError: ProblemConvertible {
    public var problem: Problem {
        switch self {
        case .poolNotFound(let pool):
            Problem(type: Problem.type(APIProblem.storagePoolNotFound), title: "Storage Pool Not Found", status: 404,
                    detail: description, extensions: ["pool": .string(pool)])
        case .volumeNotFound(let pool, let volume):
            Problem(type: Problem.type(APIProblem.storageVolumeNotFound), title: "Storage Volume Not Found", status: 404,
                    detail: description, extensions: ["pool": .string(pool), "volume": .string(volume)])
        case .poolExists(let pool):
            Problem(type: Problem.type(APIProblem.storagePoolExists), title: "Storage Pool Exists", status: 409,
                    detail: description, extensions: ["pool": .string(pool)])
        case .poolPathInUse(let path, let pool):
            Problem(type: Problem.type(APIProblem.storagePoolPathInUse), title: "Storage Pool Path In Use", status: 409,
                    detail: description, extensions: ["pool": .string(pool), "path": .string(path)])
        case .volumeExists(let pool, let volume):
            Problem(type: Problem.type(APIProblem.storageVolumeExists), title: "Storage Volume Exists", status: 409,
                    detail: description, extensions: ["pool": .string(pool), "volume": .string(volume)])
        case .poolInactive(let pool):
            Problem(type: Problem.type(APIProblem.storagePoolInactive), title: "Storage Pool Inactive", status: 409,
                    detail: description, extensions: ["pool": .string(pool)])
        case .poolNotEmpty(let pool, let volumes):
            Problem(type: Problem.type(APIProblem.storagePoolNotEmpty), title: "Storage Pool Not Empty", status: 409,
                    detail: description, extensions: ["pool": .string(pool), "volumes": .array(volumes.map { .string($0) })])
        case .volumeInUse(let pool, let volume, let domains, let overlays):
            Problem(type: Problem.type(APIProblem.storageVolumeInUse), title: "Storage Volume In Use", status: 409,
                    detail: description, extensions: ["pool": .string(pool), "volume": .string(volume),
                                                      "domains": .array(domains.map { .string($0) }),
                                                      "overlays": .array(overlays.map { .string($0) })])
        }
    }
}

extension APIProblem {
    static let invalidStorageRequest = "invalid-storage-request"
    static let storagePoolNotFound = "storage-pool-not-found"
    static let storageVolumeNotFound = "storage-volume-not-found"
    static let storagePoolExists = "storage-pool-exists"
    static let storageVolumeExists = "storage-volume-exists"
    static let storagePoolPathInUse = "storage-pool-path-in-use"
    static let storagePoolInactive = "storage-pool-inactive"
    static let storagePoolNotEmpty = "storage-pool-not-empty"
    static let storageVolumeInUse = "storage-volume-in-use"
}
