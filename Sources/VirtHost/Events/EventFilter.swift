/// Which events a subscriber wants: by domain (name or UUID) and by type (a lifecycle event
/// name such as `started`, or a kind: `lifecycle`, `reboot`, `device-removed`,
/// `device-removal-failed`, `metadata-change`, `agent-lifecycle`, `balloon-change`,
/// `block-job`, `io-error`, `job-completed`, `migration-iteration`, `operation`). Connection
/// events concern every subscriber and always pass.
public struct EventFilter: Sendable, Hashable {
    public var domains: Set<String>
    public var types: Set<String>

    public init(domains: Set<String> = [], types: Set<String> = []) {
        self.domains = Set(domains.map { $0.lowercased() })
        self.types = types
    }

    public func matches(_ event: HostEvent) -> Bool {
        if event.kind == .connection { return true }
        if !domains.isEmpty {
            let name = event.domainName?.lowercased(), uuid = event.domainUUID?.lowercased()
            guard name.map(domains.contains) == true || uuid.map(domains.contains) == true else { return false }
        }
        if !types.isEmpty {
            guard types.contains(event.kind.rawValue) || event.event.map(types.contains) == true else { return false }
        }
        return true
    }

    /// Every name a `type` filter accepts.
    public static let knownTypes: Set<String> = Set(LifecycleNames.events + HostEvent.Kind.allCases.map(\.rawValue))
}
