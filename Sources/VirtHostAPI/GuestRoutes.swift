import GuestConfig
import HTTPServer
import Libvirt
import VirtHost

/// `/v1/guests...` and the write operations on `/v1/domains/{ref}`: guest specs turned into
/// domains, their power, their devices, their removal.
struct GuestRoutes {
    let host: Host
    let idempotency: IdempotentRequest

    struct RenderedXML: Encodable {
        let xml: String
    }

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
            let (read, readErrors) = GuestSpec.read(json: request.body)
            guard let spec = read else { throw GuestSpecError(readErrors) }
            let definition = try await define(spec, readErrors: readErrors, pointer: "")
            let xml = GuestXML.xml(definition)
            if request.headers["Accept"]?.contains("application/json") == true {
                return .json(RenderedXML(xml: xml))
            }
            return Response(contentType: "application/xml", text: xml)
        }

        router.post("/v1/guests", options: .jsonBody(idempotent: true)) { [host, idempotency] request in
            try await idempotency.run(request) { try await create(request, host: host) }
        }
        for action in Guest.Action.allCases {
            router.post("/v1/domains/{ref}/\(action.rawValue)") { [host] request in
                let reference = request.pathParameter("ref") ?? ""
                switch action {
                case .start:
                    return .json(try await host.perform(.start, on: reference, paused: try request.bool("paused", default: false)))
                case .reboot:
                    let mode = try request.choice("mode", default: RebootMode.soft)
                    return .json(try await host.perform(.reboot, on: reference, hard: mode == .hard))
                case .shutdown:
                    let force = try request.bool("force", default: false)
                    // With force, the guest gets a minute to shut down unless told otherwise.
                    let timeout = try request.integer("timeout_s", in: 0...3600) ?? (force ? 60 : nil)
                    return .json(try await host.shutdown(reference, timeout: timeout.map { .seconds($0) }, force: force))
                default:
                    return .json(try await host.perform(action, on: reference))
                }
            }
        }

        router.delete("/v1/domains/{ref}") { [host] request in
            let reference = request.pathParameter("ref") ?? ""
            let uuid = try await host.deviceInventory(reference).uuid
            try await host.deleteGuest(reference, force: try request.bool("force", default: false))
            // Its firewall filters go with it; a failure here leaves orphans that
            // GET /v1/firewall/filters reports.
            try? await Firewall(host: host).removeFilters(ofDomain: uuid)
            return Response(status: 204)
        }

        router.get("/v1/domains/{ref}/vcpus") { [host] request in
            let vcpus = try await host.vcpus(request.pathParameter("ref") ?? "")
            return .json(VCPUList(vcpus: vcpus.map {
                .init(number: $0.number, state: $0.state.description, hostCPU: $0.hostCPU, cpuTimeNs: $0.cpuTimeNanoseconds)
            }))
        }

        router.post("/v1/domains/{ref}/devices", options: .jsonBody()) { [host] request in
            let reference = request.pathParameter("ref") ?? ""
            let inventory = try await host.deviceInventory(reference)
            let device = try DeviceDefinition(json: request.body, existingTargets: inventory.targets,
                                              existingMACs: inventory.macs, uuid: inventory.uuid,
                                              policy: host.validationPolicy)
            let impact = try impact(request, inventory)
            if let interface = device.interface {
                let errors = try await VIF(host: host).check([interface], pointer: "/interface")
                    .map { FieldError(pointer: $0.pointer.replacing("/interface/0", with: "/interface"),
                                      detail: $0.detail) }
                guard errors.isEmpty else { throw GuestSpecError(errors) }
            }
            let firewall = Firewall(host: host)
            if let filter = device.firewallFilter {
                guard await firewall.baseFiltersPresent() else {
                    throw GuestSpecError([FieldError(pointer: "/interface/firewall",
                                                     detail: "libvirt has no clean-traffic filter; \(Firewall.installHint)")])
                }
                try await firewall.define([filter])
            }
            let attached: DomainDetails
            do {
                attached = try await host.attachDevice(reference, xml: device.xml, impact: impact)
            } catch {
                if let filter = device.firewallFilter { await firewall.remove([filter.name]) }
                throw error
            }
            var response = Response.json(attached, status: 201)
            response.headers.add("Location", "/v1/domains/\(inventory.uuid)/devices/\(device.identifier)")
            return response
        }

        router.delete("/v1/domains/{ref}/devices/{target}") { [host] request in
            let reference = request.pathParameter("ref") ?? ""
            let inventory = try await host.deviceInventory(reference)
            let identifier = request.pathParameter("target") ?? ""
            let impact = try impact(request, inventory)
            let details = try await host.detachDevice(reference, identifier: identifier, impact: impact)
            // An interface's firewall filter goes with it once no copy of the domain (live or
            // persistent) has the interface any more.
            let goneEverywhere = (impact.contains(.live) || !inventory.active)
                && (impact.contains(.config) || !inventory.persistent)
            if goneEverywhere, identifier.count == 17, identifier.contains(":") {
                await Firewall(host: host).remove([FirewallConfig.filterName(uuid: inventory.uuid, mac: identifier)])
            }
            return .json(details)
        }
    }

    /// Defines (and starts, if asked) a guest from a creation request; nothing of it stays on failure.
    private func create(_ request: Request, host: Host) async throws -> Response {
        let (read, readErrors) = GuestCreation.read(json: request.body)
        guard let creation = read else { throw GuestSpecError(readErrors) }
        let definition = try await define(creation.spec, readErrors: readErrors, pointer: "/spec")
        // What the interfaces attach to must exist, and the firewall must be able to protect them.
        let firewall = Firewall(host: host)
        let networkErrors = try await VIF(host: host).check(creation.spec.interfaces, pointer: "/spec/interfaces")
            + (await firewall.check(definition, pointer: "/spec/interfaces"))
        guard networkErrors.isEmpty else { throw GuestSpecError(networkErrors) }
        let filters = GuestXML.firewallFilters(definition)
        if !filters.isEmpty {
            // Checked before the filters are made, so an existing guest's are never redefined.
            for reference in [creation.spec.name, definition.uuid] where (try? await host.domain(reference)) != nil {
                throw HostError.domainExists(reference)
            }
        }
        try await firewall.define(filters)
        let details: DomainDetails
        do {
            details = try await host.createGuest(xml: GuestXML.xml(definition), name: creation.spec.name,
                                                 uuid: definition.uuid, start: creation.start, paused: creation.paused)
        } catch {
            // Nothing of a failed create stays: not its filters either. A domain that
            // existed already keeps the filters it has.
            await firewall.remove(filters.map(\.name))
            throw error
        }
        var response = Response.json(details, status: 201)
        response.headers.add("Location", "/v1/domains/\(details.summary.uuid)")
        response.annotations["domain"] = details.summary.name
        return response
    }

    enum RebootMode: String, CaseIterable { case soft, hard }

    /// Validates a spec against what the host offers for it.
    func define(_ spec: GuestSpec, readErrors: [FieldError], pointer: String) async throws -> GuestDefinition {
        let profile = try await host.hostProfile(for: spec)
        return try GuestDefinition(spec, host: profile, policy: host.validationPolicy, pointer: pointer,
                                   readErrors: readErrors)
    }

    /// libvirt's AFFECT flags from `?live=&persistent=`; by default the running domain when it
    /// runs, and the definition when it has one.
    func impact(_ request: Request, _ inventory: Host.DeviceInventory) throws -> DomainModificationImpact {
        var impact: DomainModificationImpact = []
        if try request.bool("live", default: inventory.active) { impact.insert(.live) }
        if try request.bool("persistent", default: inventory.persistent) { impact.insert(.config) }
        guard !impact.isEmpty else {
            throw Problem.badRequest("live and persistent cannot both be false", parameter: "live")
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
