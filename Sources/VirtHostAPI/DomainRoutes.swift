import HTTPServer
import VirtHost

/// `/v1/domains...`: listing and reading domains.
struct DomainRoutes {
    let host: Host

    struct DomainList: Encodable {
        let domains: [DomainSummary]
    }

    func register(in router: inout Router) {
        router.get("/v1/domains") { [host] request in
            let activity = try request.choice("state", default: Host.DomainActivity.all)
            let guestsOnly = try request.bool("guests_only", default: true)
            return .json(DomainList(domains: try await host.domains(activity, guestsOnly: guestsOnly)))
        }
        router.get("/v1/domains/{ref}") { [host] request in
            .json(try await host.domain(request.pathParameter("ref") ?? ""))
        }
        router.get("/v1/domains/{ref}/xml") { [host] request in
            let inactive = try request.bool("inactive", default: false)
            // Secure XML carries console passwords: the write scope is needed for it (see Scope).
            let secure = try request.bool("secure", default: false)
            let xml = try await host.domainXML(request.pathParameter("ref") ?? "", inactive: inactive, secure: secure)
            return Response(contentType: "application/xml", text: xml)
        }
    }
}
