import GuestConfig
import HTTPServer
import VirtHost

/// `/v1/guests...`: guest specs turned into domains.
struct GuestRoutes {
    let host: Host

    struct RenderedXML: Encodable {
        let xml: String
    }

    func register(in router: inout Router) {
        // Validates a spec against the host and renders its domain XML; touches no domain.
        router.post("/v1/guests/render") { [host] request in
            let (read, readErrors) = GuestSpec.read(json: request.body)
            guard let spec = read else { throw GuestSpecError(readErrors) }
            let profile = try await host.hostProfile(for: spec)
            let definition = try GuestDefinition(spec, host: profile, policy: host.validationPolicy,
                                                 readErrors: readErrors)
            let xml = GuestXML.xml(definition)
            if request.headers["Accept"]?.contains("application/json") == true {
                return .json(RenderedXML(xml: xml))
            }
            return Response(contentType: "application/xml", text: xml)
        }
    }
}

extension GuestSpecError: ProblemConvertible {
    public var problem: Problem {
        Problem(type: Problem.type(APIProblem.invalidGuestSpec), title: "Invalid Guest Spec", status: 422,
                detail: errors.count == 1 ? "1 field is invalid" : "\(errors.count) fields are invalid",
                extensions: ["errors": .array(errors.map { error in
                    .object(["pointer": .string(error.pointer), "detail": .string(error.detail)])
                })])
    }
}
