import GuestConfig
import HTTPServer
import VirtHost

/// A guest's disks changed in place: `POST .../disks/{target}/resize` grows one, `PUT` and
/// `DELETE .../disks/{target}/media` insert and eject a CD-ROM's medium.
struct DomainDiskRoutes {
    let host: Host
    var provisioning: Provisioning { Provisioning(host: host) }

    func register(in router: inout Router) {
        router.post("/v1/domains/{ref}/disks/{target}/resize", options: .jsonBody()) { [provisioning] request in
            let resize = try VolumeResize.read(json: request.body)
            return .json(try await provisioning.resizeDisk(request.pathParameter("target") ?? "",
                                                           of: request.pathParameter("ref") ?? "", resize))
        }

        router.add("PUT", "/v1/domains/{ref}/disks/{target}/media", options: .jsonBody()) { [provisioning] request in
            let media = try DiskMedia.read(json: request.body, policy: provisioning.validationPolicy)
            return .json(try await Self.changeMedia(request, to: media, provisioning))
        }

        router.delete("/v1/domains/{ref}/disks/{target}/media") { [provisioning] request in
            .json(try await Self.changeMedia(request, to: nil, provisioning))
        }
    }

    private static func changeMedia(_ request: Request, to media: DiskMedia?, _ provisioning: Provisioning)
        async throws -> DomainDetails {
        let force = try request.bool("force", default: false)
        return try await provisioning.changeMedia(of: request.pathParameter("target") ?? "",
                                                  in: request.pathParameter("ref") ?? "", to: media, force: force) {
            try GuestRoutes.impact(request, $0)
        }
    }
}

extension DiskChangeError: ProblemConvertible {
    public var problem: Problem {
        switch self {
        case .notRemovable(let target, let device):
            Problem(type: Problem.type(APIProblem.diskNotRemovable), title: "Disk Not Removable", status: 409,
                    detail: description, extensions: ["target": .string(target), "device": .string(device)])
        case .notResizable(let target, _):
            Problem(type: Problem.type(APIProblem.diskNotResizable), title: "Disk Not Resizable", status: 409,
                    detail: description, extensions: ["target": .string(target)])
        }
    }
}

extension APIProblem {
    static let diskNotRemovable = "disk-not-removable"
    static let diskNotResizable = "disk-not-resizable"
}
