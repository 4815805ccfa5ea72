import FoundationEssentials
import Locking

/// Keeps the last events and fans each one out to every subscriber. Publishing never waits:
/// it appends to a ring buffer and to each subscriber's bounded queue under one lock, and
/// wakes the subscribers that wait; no thread is kept per subscriber. A subscriber that falls
/// behind loses its oldest queued events and is told so with an overflow.
public final class EventHub: Sendable {
    public struct Configuration: Sendable {
        /// Events kept for replay (`Last-Event-ID`).
        public var bufferSize: Int
        /// Events queued per subscriber before its oldest are dropped.
        public var subscriberQueueSize: Int
        /// How long a `stopped` event is held for coalescing subscribers, and dropped if a
        /// `started` for the same domain follows (Nova's reboot guard); zero turns it off.
        public var stopEventDelay: Duration
        /// The id before the first event. By default the wall clock at start in milliseconds
        /// × 1000, so ids keep growing across restarts of the service (unless the clock steps
        /// back, or a run takes more than 1,000 events for each millisecond it lasts), and a
        /// `Last-Event-ID` from an earlier run is told so, never given another run's events.
        public var initialID: UInt64

        public init(bufferSize: Int = 1024, subscriberQueueSize: Int = 1024, stopEventDelay: Duration = .zero,
                    initialID: UInt64? = nil) {
            self.bufferSize = max(bufferSize, 1)
            self.subscriberQueueSize = max(subscriberQueueSize, 1)
            self.stopEventDelay = stopEventDelay
            self.initialID = initialID ?? UInt64(max(0, Date().timeIntervalSince1970 * 1000)) * 1000
        }
    }

    public let configuration: Configuration

    struct State {
        /// The newest `bufferSize` events, oldest first.
        var buffer: [HostEvent] = []
        var lastID: UInt64 = 0
        var subscribers: [ObjectIdentifier: EventSubscription] = [:]
        /// Stopped events held for coalescing subscribers, by domain UUID.
        var heldStops: [String: HostEvent] = [:]
    }
    let state = Mutex(State())

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        state.withLock { $0.lastID = configuration.initialID }
    }

    /// The id of the newest event; ``Configuration/initialID`` before the first.
    public var lastID: UInt64 { state.withLock { $0.lastID } }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Gives `event` the next id, keeps it, and delivers it. Returns it with its id.
    @discardableResult
    public func publish(_ event: HostEvent) -> HostEvent {
        var event = event
        let holdStop = configuration.stopEventDelay > .zero && event.kind == .lifecycle && event.event == "stopped"
        let wake = state.withLock { state -> [EventSubscription] in
            state.lastID += 1
            event.id = state.lastID
            state.buffer.append(event)
            if state.buffer.count > configuration.bufferSize {
                state.buffer.removeFirst(state.buffer.count - configuration.bufferSize)
            }
            let uuid = event.domainUUID ?? ""
            if holdStop {
                state.heldStops[uuid] = event
            } else if event.kind == .lifecycle, event.event == "started" {
                // A start within the delay takes the held stop back: a reboot, not a power-off.
                state.heldStops[uuid] = nil
            }
            return state.subscribers.values.filter { subscriber in
                // Coalescing subscribers get a stopped event only once it has been held.
                !(holdStop && subscriber.coalesce) && subscriber.enqueue(event)
            }
        }
        wake.forEach { $0.wake() }
        if holdStop, let uuid = event.domainUUID {
            let delay = configuration.stopEventDelay
            let id = event.id
            Task { [self] in
                try? await Task.sleep(for: delay)
                releaseHeldStop(uuid: uuid, id: id)
            }
        }
        return event
    }

    /// Delivers a held stopped event to coalescing subscribers, unless a start took it back.
    private func releaseHeldStop(uuid: String, id: UInt64) {
        let wake = state.withLock { state -> [EventSubscription] in
            guard let held = state.heldStops[uuid], held.id == id else { return [] }
            state.heldStops[uuid] = nil
            return state.subscribers.values.filter { $0.coalesce && $0.enqueue(held) }
        }
        wake.forEach { $0.wake() }
    }

    /// A new subscription. With `after`, the buffered events newer than that id come first,
    /// then it is live. An overflow comes first when events after that id have left the
    /// buffer (with their count), or when this run never gave that id: it is an earlier run's
    /// (or a later one's, if the clock stepped back), and what happened in between is unknown.
    /// `after: 0` asks for everything this run still has.
    public func subscribe(_ filter: EventFilter = EventFilter(), after lastSeen: UInt64? = nil,
                          coalesce: Bool = false) -> EventSubscription {
        let subscription = EventSubscription(hub: self, filter: filter, coalesce: coalesce,
                                             capacity: configuration.subscriberQueueSize)
        state.withLock { state in
            let first = configuration.initialID
            if var lastSeen, lastSeen != state.lastID {
                if lastSeen == 0 { lastSeen = first }
                let oldest = state.buffer.first?.id ?? state.lastID + 1
                if lastSeen < first || lastSeen > state.lastID {
                    subscription.markOverflow(.init(reason: .restarted, dropped: nil))
                    // This run's earlier events say nothing the client's new listing won't.
                    lastSeen = state.lastID
                } else if lastSeen + 1 < oldest {
                    subscription.markOverflow(.init(reason: .replayGap, dropped: Int(oldest - lastSeen - 1)))
                }
                for event in state.buffer where event.id > lastSeen {
                    if coalesce, event.kind == .lifecycle, event.event == "stopped",
                       state.heldStops[event.domainUUID ?? ""]?.id == event.id { continue }
                    _ = subscription.enqueue(event)
                }
            }
            state.subscribers[ObjectIdentifier(subscription)] = subscription
        }
        return subscription
    }

    func remove(_ subscription: EventSubscription) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: ObjectIdentifier(subscription)) }
    }

    /// Ends every subscription (at shutdown).
    public func finishAll() {
        let all = state.withLock { state -> [EventSubscription] in
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        all.forEach { $0.finish() }
    }
}

/// One subscriber's view of the hub: a bounded queue it reads with ``next()``.
public final class EventSubscription: Sendable {
    /// Events this subscriber should have had are missing: it should list the domains again.
    public struct Overflow: Sendable, Hashable {
        public enum Reason: String, Sendable, Hashable {
            /// The subscriber read slower than its events came: its queue dropped the oldest.
            case queueFull = "queue_full"
            /// The requested last event id has left the replay buffer.
            case replayGap = "replay_gap"
            /// The requested last event id is not one of this run's: the service restarted
            /// in between, and nobody knows what it missed meanwhile.
            case restarted
        }

        public var reason: Reason
        /// How many: events dropped from the queue (after the filters), or event ids that
        /// left the buffer (before them). Nil when unknown (`restarted`).
        public var dropped: Int?

        public init(reason: Reason, dropped: Int?) {
            self.reason = reason
            self.dropped = dropped
        }
    }

    public enum Item: Sendable, Hashable {
        case event(HostEvent)
        /// Events were missed: the subscriber should re-list.
        case overflow(Overflow)
        /// Nothing happened for a while; sent when someone calls ``poke()``.
        case heartbeat
    }

    weak let hub: EventHub?
    let filter: EventFilter
    let coalesce: Bool
    let capacity: Int

    struct State {
        var queue: [HostEvent] = []
        /// Said before anything else: the replay could not start where it was asked to.
        var replayOverflow: Overflow?
        var dropped = 0
        var heartbeat = false
        var finished = false
        var waiter: CheckedContinuation<Item?, Never>?
    }
    let state = Mutex(State())

    init(hub: EventHub, filter: EventFilter, coalesce: Bool, capacity: Int) {
        self.hub = hub
        self.filter = filter
        self.coalesce = coalesce
        self.capacity = capacity
    }

    /// Queues `event` when it passes the filter, dropping the oldest when full. Returns
    /// whether a waiting reader should be woken. Called under the hub's lock: never blocks.
    func enqueue(_ event: HostEvent) -> Bool {
        guard filter.matches(event) else { return false }
        return state.withLock { state in
            guard !state.finished else { return false }
            if state.queue.count >= capacity {
                state.queue.removeFirst()
                state.dropped += 1
            }
            state.queue.append(event)
            return state.waiter != nil
        }
    }

    func markOverflow(_ overflow: Overflow) {
        state.withLock { $0.replayOverflow = overflow }
    }

    /// Hands the next item to a waiting reader, if there is one.
    func wake() {
        let (waiter, item) = state.withLock { state -> (CheckedContinuation<Item?, Never>?, Item?) in
            guard let waiter = state.waiter, let item = Self.take(&state) else { return (nil, nil) }
            state.waiter = nil
            return (waiter, item)
        }
        waiter?.resume(returning: item)
    }

    /// Asks for a heartbeat item when the reader has nothing else to read.
    public func poke() {
        state.withLock { $0.heartbeat = true }
        wake()
    }

    private static func take(_ state: inout State) -> Item? {
        if let overflow = state.replayOverflow {
            state.replayOverflow = nil
            return .overflow(overflow)
        }
        if state.dropped > 0 {
            defer { state.dropped = 0 }
            return .overflow(.init(reason: .queueFull, dropped: state.dropped))
        }
        if !state.queue.isEmpty { return .event(state.queue.removeFirst()) }
        if state.heartbeat {
            state.heartbeat = false
            return .heartbeat
        }
        return nil
    }

    /// The next item; nil once the subscription is finished or its task is cancelled.
    public func next() async -> Item? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate = state.withLock { state -> Item?? in
                    if let item = Self.take(&state) { return .some(item) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            finish()
        }
    }

    /// Ends the subscription: the hub forgets it, then a waiting reader gets nil. In that
    /// order, so a reader that has seen the end never finds itself still counted.
    public func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Item?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        hub?.remove(self)
        waiter?.resume(returning: nil)
    }

    public var isFinished: Bool { state.withLock { $0.finished } }
}
