import FoundationEssentials
import Libvirt

/// One event of the Host's stream, as subscribers see it.
public struct HostEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case lifecycle, reboot
        case deviceRemoved = "device-removed"
        case deviceRemovalFailed = "device-removal-failed"
        case metadataChange = "metadata-change"
        case agentLifecycle = "agent-lifecycle"
        case balloonChange = "balloon-change"
        case blockJob = "block-job"
        case ioError = "io-error"
        case jobCompleted = "job-completed"
        case migrationIteration = "migration-iteration"
        case connection
        /// A long-running operation started, progressed or ended (`Operations`).
        case operation
    }

    /// Grows by one with each event the hub takes; 0 until then.
    public var id: UInt64 = 0
    public var kind: Kind
    public var time: Date
    public var domainName: String?
    public var domainUUID: String?
    /// lifecycle: `started`, `stopped`...; connection: `lost` or `restored`; agent-lifecycle:
    /// `connected` or `disconnected`; block-job: `completed`, `failed`, `cancelled` or `ready`;
    /// metadata-change: `title`, `description` or `element`; io-error: the action taken
    /// (`none`, `pause`, `report`).
    public var event: String?
    /// lifecycle: libvirt's detail (`booted`, `destroyed`...); agent-lifecycle: why
    /// (`channel`, `domain-started`); block-job: the job's type (`pull`, `copy`, `commit`,
    /// `active-commit`, `backup`).
    public var detail: String?
    /// lifecycle: the state the domain is in after the event, where the event tells it.
    public var state: String?
    /// Made up by the resync after a reconnect, for a change whose event was missed.
    public var synthetic = false
    /// device-removed, device-removal-failed, io-error: the device alias; block-job: the disk's target.
    public var device: String?
    /// connection lost: why; io-error: the hypervisor's reason (`enospc`...).
    public var reason: String?
    /// metadata-change of an element: its namespace.
    public var namespace: String?
    /// io-error: the disk's source path.
    public var path: String?
    /// balloon-change: what the balloon now gives the guest, in KiB.
    public var balloonKiB: UInt64?
    /// job-completed: the job's final statistics, as libvirt names them (`operation`,
    /// `time_elapsed`, `data_total`...).
    public var job: [TypedParameter]?
    /// migration-iteration: the pass over the guest's memory that began (the first is 1).
    public var iteration: Int?
    /// operation: the operation's document as of this event.
    public var operation: Operation?

    public init(kind: Kind, time: Date = Date(), domainName: String? = nil, domainUUID: String? = nil,
                event: String? = nil, detail: String? = nil, state: String? = nil, synthetic: Bool = false,
                device: String? = nil, reason: String? = nil, operation: Operation? = nil) {
        self.kind = kind
        self.time = time
        self.domainName = domainName
        self.domainUUID = domainUUID
        self.event = event
        self.detail = detail
        self.state = state
        self.synthetic = synthetic
        self.device = device
        self.reason = reason
        self.operation = operation
    }

    /// The event libvirt delivered, named as libvirt names it, in lower case.
    public init(_ event: DomainEvent) {
        switch event.kind {
        case .lifecycle(let type, let detail):
            let names = LifecycleNames.names(type: type, detail: detail)
            self.init(kind: .lifecycle, time: event.time, domainName: event.domainName, domainUUID: event.domainUUID,
                      event: names.event, detail: names.detail, state: names.state)
        case .reboot:
            self.init(kind: .reboot, time: event.time, domainName: event.domainName, domainUUID: event.domainUUID)
        case .deviceRemoved(let alias):
            self.init(kind: .deviceRemoved, time: event.time, domainName: event.domainName,
                      domainUUID: event.domainUUID, device: alias)
        case .deviceRemovalFailed(let alias):
            self.init(kind: .deviceRemovalFailed, time: event.time, domainName: event.domainName,
                      domainUUID: event.domainUUID, device: alias)
        case .metadataChange(let type, let namespace):
            self.init(kind: .metadataChange, time: event.time, domainName: event.domainName,
                      domainUUID: event.domainUUID, event: Self.name(type, in: ["description", "title", "element"]))
            self.namespace = namespace
        case .agentLifecycle(let state, let reason):
            self.init(kind: .agentLifecycle, time: event.time, domainName: event.domainName, domainUUID: event.domainUUID,
                      event: Self.name(state, in: ["unknown", "connected", "disconnected"]),
                      detail: Self.name(reason, in: ["unknown", "domain-started", "channel"]))
        case .balloonChange(let actual):
            self.init(kind: .balloonChange, time: event.time, domainName: event.domainName, domainUUID: event.domainUUID)
            balloonKiB = actual
        case .blockJob(let disk, let type, let status):
            self.init(kind: .blockJob, time: event.time, domainName: event.domainName, domainUUID: event.domainUUID,
                      event: Self.name(status, in: ["completed", "failed", "cancelled", "ready"]),
                      detail: Self.name(type, in: ["unknown", "pull", "copy", "commit", "active-commit", "backup"]),
                      device: disk)
        case .ioError(let path, let alias, let action, let reason):
            self.init(kind: .ioError, time: event.time, domainName: event.domainName, domainUUID: event.domainUUID,
                      event: Self.name(action, in: ["none", "pause", "report"]), device: alias, reason: reason)
            self.path = path
        case .jobCompleted(let statistics):
            self.init(kind: .jobCompleted, time: event.time, domainName: event.domainName, domainUUID: event.domainUUID)
            job = statistics
        case .migrationIteration(let iteration):
            self.init(kind: .migrationIteration, time: event.time, domainName: event.domainName,
                      domainUUID: event.domainUUID)
            self.iteration = Int(iteration)
        }
    }

    /// libvirt's number for a name, as the list has it, or `unknown` beyond it.
    private static func name(_ value: Int32, in names: [String]) -> String {
        names.indices.contains(Int(value)) ? names[Int(value)] : "unknown"
    }

    static func connection(_ state: String, reason: String? = nil) -> HostEvent {
        HostEvent(kind: .connection, event: state, reason: reason)
    }
}

/// libvirt's lifecycle event and detail names (`virDomainEventType` and its detail enums), in
/// lower case, and the state each event leaves the domain in.
enum LifecycleNames {
    static let events = ["defined", "undefined", "started", "suspended", "resumed", "stopped", "shutdown",
                         "pmsuspended", "crashed"]
    static let details: [[String]] = [
        ["added", "updated", "renamed", "from_snapshot"],
        ["removed", "renamed"],
        ["booted", "migrated", "restored", "from_snapshot", "wakeup", "recreated"],
        ["paused", "migrated", "ioerror", "watchdog", "restored", "from_snapshot", "api_error", "postcopy",
         "postcopy_failed"],
        ["unpaused", "migrated", "from_snapshot", "postcopy", "postcopy_failed"],
        ["shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from_snapshot"],
        ["finished", "guest", "host"],
        ["memory", "disk"],
        ["panicked", "crashloaded"],
    ]
    static let states: [String?] = [nil, nil, "running", "paused", "running", "shutoff", "shutdown", "pmsuspended",
                                    "crashed"]

    static func names(type: Int32, detail: Int32) -> (event: String, detail: String, state: String?) {
        guard events.indices.contains(Int(type)) else { return ("unknown", "unknown", nil) }
        let details = details[Int(type)]
        let detailName = details.indices.contains(Int(detail)) ? details[Int(detail)] : "unknown"
        return (events[Int(type)], detailName, states[Int(type)])
    }
}
