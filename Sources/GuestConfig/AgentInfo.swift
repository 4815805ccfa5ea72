/// What the QEMU guest agent says of itself (`guest-info`): its version and the commands it
/// has enabled. Read from the agent's JSON answer, `{"return": {"version", "supported_commands":
/// [{"name", "enabled"}, ...]}}`.
public struct AgentInfo: Sendable, Hashable {
    public var version: String?
    /// The enabled commands' names, in the agent's order.
    public var commands: [String]

    public init(version: String?, commands: [String]) {
        self.version = version
        self.commands = commands
    }

    /// The answer read, or nil when it is not one (not JSON, no `return` object).
    public static func read(json bytes: [UInt8]) -> AgentInfo? {
        guard case .object(let answer)? = try? JSONParser.parse(bytes),
              case .object(let info)? = answer.member("return") else { return nil }
        var version: String?
        if case .string(let text)? = info.member("version") { version = text }
        var commands: [String] = []
        if case .array(let list)? = info.member("supported_commands") {
            for case .object(let command) in list {
                guard case .string(let name)? = command.member("name") else { continue }
                if case .bool(false)? = command.member("enabled") { continue }
                commands.append(name)
            }
        }
        return AgentInfo(version: version, commands: commands)
    }
}

extension JSONObject {
    /// The value of member `key`, or nil.
    func member(_ key: String) -> JSON? { position(of: key).map { members[$0].value } }
}
