import GuestConfig
import HTTPServer
import VirtHost

/// `PATCH /v1/domains/{ref}`: a JSON merge patch (RFC 7396) of a domain's autostart, title,
/// description and labels.
struct DomainSettingsRoutes {
    let host: Host
    var provisioning: Provisioning { Provisioning(host: host) }

    func register(in router: inout Router) {
        router.add("PATCH", "/v1/domains/{ref}", options: .mergePatchBody()) { [provisioning] request in
            let (read, errors) = DomainPatch.read(json: request.body)
            guard let patch = read else { throw GuestSpecError(errors) }
            let details = try await provisioning.patchDomain(request.pathParameter("ref") ?? "", patch) {
                try GuestRoutes.impact(request, $0)
            }
            return .json(details)
        }
    }
}
