import GuestConfig
import HTTPServer
import Libvirt
import VirtHost

/// `/v1/domains/{ref}/agent`, `addresses`, `guest-info`, `password`, `fs-freeze`, `fs-thaw`,
/// `fs-info` and `time-sync`: what the QEMU guest agent tells and does (``GuestAgent``).
struct AgentRoutes {
    let agent: GuestAgent

    static let agentUnavailable = "agent-unavailable"
    static let agentTimeout = "agent-timeout"
    static let agentCommandFailed = "agent-command-failed"
    static let invalidAgentRequest = "invalid-agent-request"

    struct AddressList: Encodable {
        struct Interface: Encodable {
            let name: String
            @NullWhenAbsent var mac: String?
            let addresses: [Address]
        }

        struct Address: Encodable {
            let family: String
            let address: String
            let prefix: UInt32
        }

        let source: String
        let interfaces: [Interface]
    }

    struct FileSystemList: Encodable {
        struct FileSystem: Encodable {
            let mountpoint: String
            let name: String
            let type: String
            let disks: [String]
        }

        /// Whether the service holds a freeze of the guest now.
        let frozen: Bool
        let fileSystems: [FileSystem]

        enum CodingKeys: String, CodingKey { case frozen, fileSystems = "file_systems" }
    }

    struct FreezeResult: Encodable {
        let frozen: Int
        let autoThawInSeconds: Int

        enum CodingKeys: String, CodingKey { case frozen, autoThawInSeconds = "auto_thaw_in_s" }
    }

    struct ThawResult: Encodable {
        let thawed: Int
    }

    func register(in router: inout Router) {
        router.get("/v1/domains/{ref}/agent") { [agent] request in
            let reference = request.pathParameter("ref") ?? ""
            return .json(try await Self.answer(reference) { () async throws(AgentError) in try await agent.status(reference) })
        }
        router.get("/v1/domains/{ref}/addresses") { [agent] request in
            let reference = request.pathParameter("ref") ?? ""
            let source = try request.choice("source", default: Domain.AddressSource.agent)
            let interfaces = try await Self.answer(reference) { () async throws(AgentError) in
                try await agent.interfaceAddresses(reference, source: source)
            }
            return .json(AddressList(source: source.rawValue, interfaces: interfaces.map { interface in
                .init(name: interface.name, mac: interface.mac, addresses: interface.addresses.map {
                    .init(family: $0.family, address: $0.address, prefix: $0.prefix)
                })
            }))
        }
        router.get("/v1/domains/{ref}/guest-info") { [agent] request in
            let reference = request.pathParameter("ref") ?? ""
            let parameters = try await Self.answer(reference) { () async throws(AgentError) in try await agent.guestInfo(reference) }
            return .json(GuestInfoDocument(parameters))
        }
        // Root on the guest in effect: write scope. The body is never logged or echoed.
        router.post("/v1/domains/{ref}/password", options: .jsonBody(bodyLimit: 8 * 1024)) { [agent] request in
            let reference = request.pathParameter("ref") ?? ""
            let change = try Self.checked { () throws(GuestSpecError) in try PasswordChange.read(json: request.body) }
            try await Self.answer(reference) { () async throws(AgentError) in
                try await agent.setPassword(reference, user: change.user, password: change.password, encrypted: change.encrypted)
            }
            return Response(status: 204)
        }
        router.post("/v1/domains/{ref}/fs-freeze", options: .jsonBody(bodyLimit: 64 * 1024)) { [agent] request in
            let reference = request.pathParameter("ref") ?? ""
            let selection = try Self.checked { () throws(GuestSpecError) in try FileSystemSelection.read(json: request.body) }
            let count = try await Self.answer(reference) { () async throws(AgentError) in
                try await agent.freeze(reference, mountpoints: selection.mountpoints)
            }
            return .json(FreezeResult(frozen: count,
                                      autoThawInSeconds: Int(agent.configuration.freezeMaximum.components.seconds)))
        }
        router.post("/v1/domains/{ref}/fs-thaw", options: .jsonBody(bodyLimit: 64 * 1024)) { [agent] request in
            let reference = request.pathParameter("ref") ?? ""
            let selection = try Self.checked { () throws(GuestSpecError) in try FileSystemSelection.read(json: request.body) }
            let count = try await Self.answer(reference) { () async throws(AgentError) in
                try await agent.thaw(reference, mountpoints: selection.mountpoints)
            }
            return .json(ThawResult(thawed: count))
        }
        router.get("/v1/domains/{ref}/fs-info") { [agent] request in
            let reference = request.pathParameter("ref") ?? ""
            let (frozen, list) = try await Self.answer(reference) { () async throws(AgentError) in try await agent.fileSystems(reference) }
            return .json(FileSystemList(frozen: frozen, fileSystems: list.map {
                .init(mountpoint: $0.mountpoint, name: $0.name, type: $0.type, disks: $0.disks)
            }))
        }
        router.post("/v1/domains/{ref}/time-sync") { [agent] request in
            let reference = request.pathParameter("ref") ?? ""
            try await Self.answer(reference) { () async throws(AgentError) in try await agent.syncTime(reference) }
            return Response(status: 204)
        }
    }

    /// Runs an agent call, its failure as a problem naming the guest.
    @discardableResult
    static func answer<T>(_ reference: String, _ body: () async throws(AgentError) -> T) async throws(Problem) -> T {
        do {
            return try await body()
        } catch {
            throw problem(error)
        }
    }

    static func checked<T>(_ read: () throws(GuestSpecError) -> T) throws -> T {
        do { return try read() } catch { throw AgentRequestError(errors: error) }
    }

    static func problem(_ error: AgentError) -> Problem {
        switch error {
        case .unavailable(let domain, let reason):
            Problem(type: Problem.type(agentUnavailable), title: "Guest Agent Unavailable", status: 409,
                    detail: "the guest agent of \(domain) cannot be used: \(reason)", extensions: ["domain": .string(domain)])
        case .timeout(let domain, let seconds):
            Problem(type: Problem.type(agentTimeout), title: "Guest Agent Timeout", status: 504,
                    detail: "the guest agent of \(domain) did not answer within \(seconds) s",
                    extensions: ["domain": .string(domain), "timeout_s": .int(seconds)])
        case .commandFailed(let domain, let message):
            Problem(type: Problem.type(agentCommandFailed), title: "Guest Agent Command Failed", status: 502,
                    detail: "the guest agent of \(domain) refused: \(message)", extensions: ["domain": .string(domain)])
        case .host(let error):
            error.problem
        }
    }
}

/// An agent request whose fields are wrong: every field error at once, with its pointer.
struct AgentRequestError: Error, ProblemConvertible {
    let errors: GuestSpecError

    var problem: Problem {
        var problem = errors.problem
        guard !errors.isMalformedJSON else { return problem }
        problem.type = Problem.type(AgentRoutes.invalidAgentRequest)
        problem.title = "Invalid Agent Request"
        return problem
    }
}

/// `virDomainGetGuestInfo`'s flat parameters (`os.id`, `user.0.name`, `fs.1.disk.0.alias`, …)
/// as a document: `os` and `timezone` objects, `hostname`, and `users`, `file_systems`,
/// `disks` and `interfaces` arrays; names with `_` for libvirt's `-` and `.`.
struct GuestInfoDocument: Encodable {
    let document: [String: JSONValue]

    init(_ parameters: [TypedParameter]) {
        var document: [String: JSONValue] = [
            "hostname": parameters["hostname"].map(Self.value) ?? .null,
            "os": .object(Self.group("os.", parameters)),
            "timezone": .object(Self.group("timezone.", parameters)),
        ]
        for (prefix, name) in [("user", "users"), ("fs", "file_systems"), ("disk", "disks"), ("if", "interfaces")] {
            let count = parameters[prefix + ".count"]?.number.map { Int($0) } ?? 0
            document[name] = .array((0..<min(count, 4096)).map { index in
                .object(Self.group("\(prefix).\(index).", parameters))
            })
        }
        self.document = document
    }

    func encode(to encoder: any Encoder) throws {
        try JSONValue.object(document).encode(to: encoder)
    }

    /// The parameters under `prefix`, the rest of each name made a JSON member name.
    static func group(_ prefix: String, _ parameters: [TypedParameter]) -> [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        for parameter in parameters where parameter.field.hasPrefix(prefix) {
            let key = String(parameter.field.dropFirst(prefix.count)).map { $0 == "-" || $0 == "." ? "_" : $0 }
            members[String(key)] = value(parameter.value)
        }
        return members
    }

    static func value(_ value: TypedParameter.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .boolean(let flag): .bool(flag)
        case .int(let number): .int(Int(number))
        case .uint(let number): .int(Int(number))
        case .llong(let number): .int(Int(number))
        case .ullong(let number): number <= UInt64(Int.max) ? .int(Int(number)) : .double(Double(number))
        case .double(let number): .double(number)
        }
    }
}
