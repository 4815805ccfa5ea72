import GuestConfig
import HTTPServer
import Libvirt
import VirtHost

/// `/v1/guests...` and the write operations on `/v1/domains/{ref}`: guest specs turned into
/// domains, their power, their devices, their removal.
struct GuestRoutes {
    let host: Host
    let idempotency: IdempotentRequest
    /// For `shutdown` and `reboot` with `?mode=agent|acpi`.
    var agent: GuestAgent?
    var provisioning: Provisioning { Provisioning(host: host) }

    struct VCPUList: Encodable {
        struct VCPU: Encodable {
            let number: Int
            let state: String
            @NullWhenAbsent var hostCPU: Int?
            let cpuTimeNs: UInt64

            enum CodingKeys: String, CodingKey {
                case number, state
                case hostCPU = "host_cpu"
                case cpuTimeNs = "cpu_time_ns"
            }
        }

        let vcpus: [VCPU]
    }

    func register(in router: inout Router) {
        // Validates a spec against the host and renders its domain XML; touches no domain.
        router.post("/v1/guests/render", options: .jsonBody()) { request in
            // A bad format is refused before the spec is read.
            let format = try request.documentFormat(preferred: .json)
            let (read, readErrors) = GuestSpec.read(json: request.body)
            guard let spec = read else { throw GuestSpecError(readErrors) }
            let include = try request.choice("include", default: RenderInclusion.xml)
            let definition = try await define(spec, readErrors: readErrors, pointer: "")
            guard include == .firstBoot else { return .document(xml: GuestXML.xml(definition), as: format) }
            // The files the first-boot disk would hold, beside the XML: JSON only.
            guard format == .json else {
                throw Problem.badRequest("include=first_boot answers in JSON only", parameter: "include")
            }
            var response = Response.json(RenderedGuest(xml: GuestXML.xml(definition), definition: definition))
            response.headers.add("Vary", "Accept")
            return response
        }

        router.post("/v1/guests", options: .jsonBody(idempotent: true)) { [idempotency] request in
            try await idempotency.run(request) { try await create(request) }
        }
        for action in Guest.Action.allCases {
            router.post("/v1/domains/{ref}/\(action.rawValue)") { [host, agent] request in
                let reference = request.pathParameter("ref") ?? ""
                if let agent, action == .shutdown || action == .reboot, let mode = try Self.powerMode(request, action) {
                    return try await Self.power(agent, reference, reboot: action == .reboot, mode: mode)
                }
                switch action {
                case .start:
                    let paused = try request.bool("paused", default: false)
                    return .json(try await host.guest(for: reference).perform(.start, paused: paused))
                case .reboot:
                    let mode = try request.choice("mode", default: RebootMode.soft)
                    return .json(try await host.guest(for: reference).perform(.reboot, hard: mode == .hard))
                case .shutdown:
                    let force = try request.bool("force", default: false)
                    // With force, the guest gets a minute to shut down unless told otherwise.
                    let timeout = try request.integer("timeout_s", in: 0...3600) ?? (force ? 60 : nil)
                    return .json(try await host.guest(for: reference).shutdown(timeout: timeout.map { .seconds($0) },
                                                                                force: force))
                default:
                    return .json(try await host.guest(for: reference).perform(action))
                }
            }
        }

        router.delete("/v1/domains/{ref}") { [provisioning] request in
            let force = try request.bool("force", default: false)
            // `volumes=owned` removes the volumes the service made for the guest; `kept` (the
            // default) leaves them. Either way the answer lists them, or is a 204 with none.
            let volumes = try request.choice("volumes", default: VolumesOnDelete.kept)
            let outcome = try await provisioning.deleteGuest(request.pathParameter("ref") ?? "", force: force,
                                                             deleteVolumes: volumes == .owned)
            return outcome.isEmpty ? Response(status: 204) : .json(outcome)
        }

        router.get("/v1/domains/{ref}/vcpus") { [host] request in
            let vcpus = try await host.guest(for: request.pathParameter("ref") ?? "").vcpus()
            return .json(VCPUList(vcpus: vcpus.map {
                .init(number: $0.number, state: $0.state.description, hostCPU: $0.hostCPU, cpuTimeNs: $0.cpuTimeNanoseconds)
            }))
        }

        router.post("/v1/domains/{ref}/devices", options: .jsonBody()) { [provisioning] request in
            let attached = try await provisioning.attachDevice(json: request.body, to: request.pathParameter("ref") ?? "") {
                try Self.impact(request, $0)
            }
            var response = Response.json(attached.details, status: 201)
            response.headers.add("Location", "/v1/domains/\(attached.uuid)/devices/\(attached.identifier)")
            return response
        }

        router.delete("/v1/domains/{ref}/devices/{target}") { [provisioning] request in
            let details = try await provisioning.detachDevice(request.pathParameter("target") ?? "",
                                                              from: request.pathParameter("ref") ?? "") {
                try Self.impact(request, $0)
            }
            return .json(details)
        }
    }

    /// Defines (and starts, if asked) a guest from a creation request; nothing of it stays on failure.
    private func create(_ request: Request) async throws -> Response {
        let (read, readErrors) = GuestCreation.read(json: request.body)
        guard let creation = read else { throw GuestSpecError(readErrors) }
        let definition = try await define(creation.spec, readErrors: readErrors, pointer: "/spec")
        let details = try await provisioning.createGuest(definition, name: creation.spec.name, start: creation.start,
                                                         paused: creation.paused)
        var response = Response.json(details, status: 201)
        response.headers.add("Location", "/v1/domains/\(details.summary.uuid)")
        response.annotations["domain"] = details.summary.name
        return response
    }

    enum VolumesOnDelete: String, CaseIterable { case kept, owned }
    enum RenderInclusion: String, CaseIterable {
        case xml
        case firstBoot = "first_boot"
    }

    /// A render with `?include=first_boot`: the XML and what the first-boot disk would hold
    /// (null when the spec asks for none).
    struct RenderedGuest: Encodable {
        struct FirstBoot: Encodable {
            struct File: Encodable {
                let path: String
                let content: String
            }

            let format: String
            let label: String
            let volume: VolumeReferenceDocument
            let files: [File]
        }

        struct VolumeReferenceDocument: Encodable {
            let pool: String
            let volume: String
        }

        let xml: String
        @NullWhenAbsent var firstBoot: FirstBoot?

        init(xml: String, definition: GuestDefinition) {
            self.xml = xml
            if let files = FirstBootDisk.files(of: definition), let volume = ManagedVolumes.firstBootVolume(definition.spec) {
                firstBoot = FirstBoot(format: definition.spec.firstBoot?.format ?? "", label: files.label,
                                      volume: .init(pool: volume.pool, volume: volume.volume),
                                      files: files.files.map { .init(path: $0.path, content: String(decoding: $0.content, as: UTF8.self)) })
            }
        }

        enum CodingKeys: String, CodingKey {
            case xml
            case firstBoot = "first_boot"
        }
    }
    enum RebootMode: String, CaseIterable { case soft, hard, agent, acpi }

    /// `?mode=agent|acpi` of shutdown (not with `timeout_s` or `force`) and reboot; nil for
    /// the other modes.
    static func powerMode(_ request: Request, _ action: Guest.Action) throws -> GuestAgent.PowerMode? {
        guard request.query("mode") != nil else { return nil }
        if action == .reboot {
            return GuestAgent.PowerMode(rawValue: try request.choice("mode", default: RebootMode.soft).rawValue)
        }
        let mode = try request.choice("mode", default: GuestAgent.PowerMode.acpi)
        if request.query("timeout_s") != nil || request.query("force") != nil {
            throw Problem.badRequest("mode cannot be combined with timeout_s or force", parameter: "mode")
        }
        return mode
    }

    /// A shutdown or reboot through the agent or ACPI; `Power-Mode` says which was used, and
    /// `Power-Mode-Fallback` why ACPI was used when the agent was asked for.
    static func power(_ agent: GuestAgent, _ reference: String, reboot: Bool, mode: GuestAgent.PowerMode) async throws -> Response {
        let (used, fallback) = try await AgentRoutes.answer(reference) { () async throws(AgentError) in
            try await agent.power(reference, reboot: reboot, mode: mode)
        }
        var response = Response.json(try await agent.host.guest(for: reference).details())
        response.headers.add("Power-Mode", used.rawValue)
        if let fallback { response.headers.add("Power-Mode-Fallback", fallback) }
        return response
    }

    /// Validates a spec against what the host offers for it.
    func define(_ spec: GuestSpec, readErrors: [FieldError], pointer: String) async throws -> GuestDefinition {
        try await provisioning.definition(of: spec, readErrors: readErrors, pointer: pointer)
    }

    /// libvirt's AFFECT flags from `?live=&persistent=`; by default the running domain when it
    /// runs, and the definition when it has one. Decided under the domain's lock, from its
    /// inventory then.
    static func impact(_ request: Request, _ inventory: Guest.DeviceInventory) throws -> DomainModificationImpact {
        var impact: DomainModificationImpact = []
        if try request.bool("live", default: inventory.active) { impact.insert(.live) }
        if try request.bool("persistent", default: inventory.persistent) { impact.insert(.config) }
        guard !impact.isEmpty else {
            throw Problem.badRequest("live and persistent cannot both be false", parameter: "live")
        }
        // libvirt refuses this too, but as an error of no particular kind (a 500 otherwise).
        if impact.contains(.live), !inventory.active {
            throw HostError.invalidState(action: "change the live devices of", state: "shutoff")
        }
        return impact
    }
}

extension GuestSpecError: ProblemConvertible {
    public var problem: Problem {
        if isMalformedJSON {
            return Problem(type: Problem.type(APIProblem.malformedJSON), title: "Malformed JSON", status: 400,
                           detail: "the request body \(errors[0].detail)",
                           extensions: ["errors": .array([.object(["pointer": .string(errors[0].pointer),
                                                                   "detail": .string(errors[0].detail)])])])
        }
        return Problem(type: Problem.type(APIProblem.invalidGuestSpec), title: "Invalid Guest Spec", status: 422,
                detail: errors.count == 1 ? "1 field is invalid" : "\(errors.count) fields are invalid",
                extensions: ["errors": .array(errors.map { error in
                    .object(["pointer": .string(error.pointer), "detail": .string(error.detail)])
                })])
    }
}
