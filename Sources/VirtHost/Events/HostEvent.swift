import FoundationEssentials
import Libvirt

/// One event of the Host's stream, as subscribers see it.
public struct HostEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case lifecycle, reboot
        case deviceRemoved = "device-removed"
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
    /// lifecycle: `started`, `stopped`...; connection: `lost` or `restored`.
    public var event: String?
    /// lifecycle: libvirt's detail (`booted`, `destroyed`...).
    public var detail: String?
    /// lifecycle: the state the domain is in after the event, where the event tells it.
    public var state: String?
    /// Made up by the resync after a reconnect, for a change whose event was missed.
    public var synthetic = false
    /// device-removed: the device alias.
    public var device: String?
    /// connection lost: why.
    public var reason: String?
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
        }
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
