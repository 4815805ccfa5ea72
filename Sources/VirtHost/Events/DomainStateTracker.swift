import Locking

/// The last known state of every domain, kept from the listing at connect and from each
/// lifecycle event, so that after a reconnect the changes missed meanwhile can be found.
final class DomainStateTracker: Sendable {
    struct Known: Sendable, Hashable {
        var name: String
        var state: String
    }

    private let known = Mutex<[String: Known]>([:])

    func reset(_ domains: [String: Known]) { known.withLock { $0 = domains } }

    var snapshot: [String: Known] { known.withLock { $0 } }

    /// Follows a lifecycle event: on the event loop thread, so only a map update.
    func apply(_ event: HostEvent) {
        guard event.kind == .lifecycle, let uuid = event.domainUUID else { return }
        known.withLock { known in
            switch event.event {
            case "undefined": known[uuid] = nil
            case "defined": if known[uuid] == nil { known[uuid] = Known(name: event.domainName ?? "", state: "shutoff") }
            default: if let state = event.state { known[uuid] = Known(name: event.domainName ?? "", state: state) }
            }
        }
    }

    /// The lifecycle events that lead from `before` to `after`, marked synthetic.
    static func changes(from before: [String: Known], to after: [String: Known]) -> [HostEvent] {
        func event(_ uuid: String, _ name: String, _ event: String, _ detail: String, _ state: String?) -> HostEvent {
            HostEvent(kind: .lifecycle, domainName: name, domainUUID: uuid, event: event, detail: detail, state: state,
                      synthetic: true)
        }
        let active: Set<String> = ["running", "blocked", "paused", "pmsuspended"]
        var events: [HostEvent] = []
        for uuid in Set(before.keys).union(after.keys).sorted() {
            switch (before[uuid], after[uuid]) {
            case (nil, let now?):
                events.append(event(uuid, now.name, "defined", "added", nil))
                if active.contains(now.state) { events.append(event(uuid, now.name, "started", "booted", "running")) }
                if now.state == "paused" { events.append(event(uuid, now.name, "suspended", "paused", "paused")) }
            case (let then?, nil):
                if active.contains(then.state) {
                    events.append(event(uuid, then.name, "stopped", "destroyed", "shutoff"))
                }
                events.append(event(uuid, then.name, "undefined", "removed", nil))
            case (let then?, let now?) where then.state != now.state:
                let wasActive = active.contains(then.state), isActive = active.contains(now.state)
                switch now.state {
                case "shutoff" where wasActive: events.append(event(uuid, now.name, "stopped", "unknown", "shutoff"))
                case "crashed": events.append(event(uuid, now.name, "crashed", "unknown", "crashed"))
                case "paused" where isActive && wasActive:
                    events.append(event(uuid, now.name, "suspended", "paused", "paused"))
                case "paused":
                    events.append(event(uuid, now.name, "started", "booted", "running"))
                    events.append(event(uuid, now.name, "suspended", "paused", "paused"))
                case "running" where then.state == "paused", "blocked" where then.state == "paused":
                    events.append(event(uuid, now.name, "resumed", "unpaused", "running"))
                case "running", "blocked": events.append(event(uuid, now.name, "started", "booted", "running"))
                case "pmsuspended": events.append(event(uuid, now.name, "pmsuspended", "memory", "pmsuspended"))
                default: break
                }
            default: break
            }
        }
        return events
    }
}
