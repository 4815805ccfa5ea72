import Foundation
import Testing
import TestSupport
@testable import VirtHost

/// The hub alone: ids, buffer, replay, filters, bounded queues, coalescing.
@Suite(.paced) struct EventHubTests {
    func lifecycle(_ event: String, domain: String = "a", uuid: String = "u-a") -> HostEvent {
        HostEvent(kind: .lifecycle, domainName: domain, domainUUID: uuid, event: event, detail: "x")
    }

    func events(_ subscription: EventSubscription, _ count: Int) async -> [EventSubscription.Item] {
        var items: [EventSubscription.Item] = []
        while items.count < count, let item = await subscription.next() { items.append(item) }
        return items
    }

    @Test func idsOnlyGrowAndTheBufferKeepsTheNewest() {
        let hub = EventHub(configuration: .init(bufferSize: 3, initialID: 0))
        let ids = (0..<5).map { _ in hub.publish(lifecycle("started")).id }
        #expect(ids == [1, 2, 3, 4, 5])
        #expect(hub.state.withLock { $0.buffer.map(\.id) } == [3, 4, 5])
    }

    @Test func everySubscriberGetsEveryEventInOrder() async {
        let hub = EventHub()
        let subscriptions = (0..<10).map { _ in hub.subscribe() }
        for name in ["started", "suspended", "resumed", "stopped"] { hub.publish(lifecycle(name)) }
        for subscription in subscriptions {
            let items = await events(subscription, 4)
            #expect(items.map { item -> String? in
                if case .event(let event) = item { return event.event }
                return nil
            } == ["started", "suspended", "resumed", "stopped"])
        }
    }

    @Test func replayResumesAfterTheLastSeenID() async {
        let hub = EventHub(configuration: .init(bufferSize: 10, initialID: 0))
        for _ in 0..<5 { hub.publish(lifecycle("started")) }
        let subscription = hub.subscribe(after: 3)
        let items = await events(subscription, 2)
        #expect(items.compactMap { if case .event(let e) = $0 { e.id } else { nil } } == [UInt64(4), 5])
    }

    @Test func replayFromAnIDThatLeftTheBufferStartsWithAnOverflow() async {
        let hub = EventHub(configuration: .init(bufferSize: 3, initialID: 0))
        for _ in 0..<6 { hub.publish(lifecycle("started")) }  // buffer holds 4, 5, 6
        let subscription = hub.subscribe(after: 1)  // 2 and 3 are gone
        let items = await events(subscription, 4)
        #expect(items.first == .overflow(.init(reason: .replayGap, dropped: 2)))
        #expect(items.dropFirst().compactMap { if case .event(let e) = $0 { e.id } else { nil } } == [UInt64(4), 5, 6])
    }

    @Test func aFullQueueDropsItsOldestAndSaysSo() async {
        let hub = EventHub(configuration: .init(subscriberQueueSize: 4, initialID: 0))
        let slow = hub.subscribe()
        let fast = hub.subscribe()
        var fastSeen: [UInt64] = []
        for _ in 0..<10 {
            let event = hub.publish(lifecycle("started"))
            // The fast reader keeps up; the slow one reads nothing.
            if case .event(let seen)? = await fast.next() { fastSeen.append(seen.id) }
            #expect(fastSeen.last == event.id)
        }
        #expect(fastSeen == Array(UInt64(1)...10))
        let items = await events(slow, 5)
        #expect(items.first == .overflow(.init(reason: .queueFull, dropped: 6)))
        #expect(items.dropFirst().compactMap { if case .event(let e) = $0 { e.id } else { nil } } == [UInt64(7), 8, 9, 10])
    }

    @Test func filtersByDomainAndType() async {
        let hub = EventHub()
        let byDomain = hub.subscribe(EventFilter(domains: ["B"]))
        let byUUID = hub.subscribe(EventFilter(domains: ["u-b"]))
        let byType = hub.subscribe(EventFilter(types: ["stopped", "reboot"]))
        hub.publish(lifecycle("started", domain: "a", uuid: "u-a"))
        hub.publish(lifecycle("stopped", domain: "b", uuid: "u-b"))
        hub.publish(HostEvent(kind: .reboot, domainName: "a", domainUUID: "u-a"))
        hub.publish(.connection("lost", reason: "test"))
        func kinds(_ items: [EventSubscription.Item]) -> [String] {
            items.compactMap { if case .event(let e) = $0 { e.event ?? e.kind.rawValue } else { nil } }
        }
        #expect(kinds(await events(byDomain, 2)) == ["stopped", "lost"])
        #expect(kinds(await events(byUUID, 2)) == ["stopped", "lost"])
        #expect(kinds(await events(byType, 3)) == ["stopped", "reboot", "lost"])
    }

    @Test func aStopFollowedByAStartIsCoalescedAway() async throws {
        let hub = EventHub(configuration: .init(stopEventDelay: .milliseconds(300)))
        let plain = hub.subscribe()
        let coalescing = hub.subscribe(coalesce: true)
        hub.publish(lifecycle("stopped"))
        hub.publish(lifecycle("started"))
        hub.publish(lifecycle("stopped", domain: "c", uuid: "u-c"))  // no start follows
        func names(_ items: [EventSubscription.Item]) -> [String] {
            items.compactMap { if case .event(let e) = $0 { "\(e.event ?? "")/\(e.domainName ?? "")" } else { nil } }
        }
        #expect(names(await events(plain, 3)) == ["stopped/a", "started/a", "stopped/c"])
        // The coalescing subscriber sees the start at once, and c's stop after the delay only.
        #expect(names(await events(coalescing, 2)) == ["started/a", "stopped/c"])
    }

    @Test func idsContinueFromTheClockSoAnotherRunsIDsAreNeverReplayed() async {
        let earlier = EventHub()
        let lastOfEarlierRun = earlier.publish(lifecycle("started")).id
        try? await Task.sleep(for: .milliseconds(5))
        let later = EventHub()
        #expect(later.lastID > lastOfEarlierRun)
        // A client of the earlier run reconnects to the later one: it is told it missed events.
        later.publish(lifecycle("stopped"))
        let subscription = later.subscribe(after: lastOfEarlierRun)
        // No count: how many events the service missed while it was down is unknown.
        #expect(await subscription.next() == .overflow(.init(reason: .restarted, dropped: nil)))
        // Nothing of this run is replayed (the client lists the domains again); live events follow.
        let live = later.publish(lifecycle("started"))
        #expect(await subscription.next() == .event(live))
    }

    @Test func anIDThisRunNeverGaveIsARestartAndZeroIsTheStartOfTheRun() async {
        let hub = EventHub(configuration: .init(bufferSize: 2, initialID: 1000))
        for _ in 0..<3 { hub.publish(lifecycle("started")) }  // 1001...1003; the buffer keeps 1002, 1003
        // Newer than anything this run gave: a run whose clock was ahead.
        #expect(await hub.subscribe(after: 5000).next() == .overflow(.init(reason: .restarted, dropped: nil)))
        #expect(await hub.subscribe(after: 999).next() == .overflow(.init(reason: .restarted, dropped: nil)))
        // 0: from the start of this run, of which one event has left the buffer.
        let fromStart = hub.subscribe(after: 0)
        let items = await events(fromStart, 3)
        #expect(items.first == .overflow(.init(reason: .replayGap, dropped: 1)))
        #expect(items.dropFirst().compactMap { if case .event(let e) = $0 { e.id } else { nil } } == [UInt64(1002), 1003])
        // The newest id replays nothing and claims nothing.
        let upToDate = hub.subscribe(after: 1003)
        let next = hub.publish(lifecycle("stopped"))
        #expect(await upToDate.next() == .event(next))
    }

    @Test func heartbeatsComeWhenPokedAndFinishEndsTheReader() async {
        let hub = EventHub()
        let subscription = hub.subscribe()
        subscription.poke()
        #expect(await subscription.next() == .heartbeat)
        #expect(hub.subscriberCount == 1)
        Task { subscription.finish() }
        #expect(await subscription.next() == nil)
        #expect(hub.subscriberCount == 0)
    }

    @Test func cancellingTheReaderEndsTheSubscription() async {
        let hub = EventHub()
        let subscription = hub.subscribe()
        let reader = Task { await subscription.next() }
        try? await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        #expect(await reader.value == nil)
        #expect(subscription.isFinished && hub.subscriberCount == 0)
    }

    @Test func resyncFindsWhatChangedWhileDisconnected() {
        typealias Known = DomainStateTracker.Known
        let before: [String: Known] = ["1": Known(name: "a", state: "running"), "2": Known(name: "b", state: "paused"),
                                       "3": Known(name: "c", state: "shutoff"), "4": Known(name: "d", state: "running")]
        let after: [String: Known] = ["1": Known(name: "a", state: "shutoff"), "2": Known(name: "b", state: "running"),
                                      "3": Known(name: "c", state: "shutoff"), "5": Known(name: "e", state: "running")]
        let events = DomainStateTracker.changes(from: before, to: after)
        #expect(events.allSatisfy { $0.synthetic })
        #expect(events.map { "\($0.domainName ?? "") \($0.event ?? "")" } == [
            "a stopped", "b resumed", "d stopped", "d undefined", "e defined", "e started",
        ])
    }
}
