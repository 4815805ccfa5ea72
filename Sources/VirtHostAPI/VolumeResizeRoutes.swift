import GuestConfig
import HTTPServer
import VirtHost

/// `POST /v1/storage/pools/{pool}/volumes/{volume}/resize`: a volume grown in place.
struct VolumeResizeRoutes {
    let host: Host

    func register(in router: inout Router) {
        router.post("/v1/storage/pools/{pool}/volumes/{volume}/resize", options: .jsonBody()) { [host] request in
            let pool = try StorageRoutes.name(request, "pool")
            let volume = try StorageRoutes.name(request, "volume")
            let resize = try StorageRoutes.checked { () throws(GuestSpecError) in try VolumeResize.read(json: request.body) }
            do {
                return .json(try await Storage(host: host).resizeVolume(pool: pool, name: volume, resize))
            } catch let error as GuestSpecError {
                throw StorageRequestError(errors: error)
            }
        }
    }
}

extension VolumeResizeError: ProblemConvertible {
    public var problem: Problem {
        switch self {
        case .attachedToRunningDomain(let pool, let volume, let domains):
            Problem(type: Problem.type(APIProblem.storageVolumeAttached), title: "Storage Volume Attached", status: 409,
                    detail: description, extensions: ["pool": .string(pool), "volume": .string(volume),
                                                      "domains": .array(domains.map { .string($0) })])
        }
    }
}

extension APIProblem {
    static let storageVolumeAttached = "storage-volume-attached"
}
