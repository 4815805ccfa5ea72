import Locking
import Testing
import TestSupport

/// The suites' test code runs off Swift's cooperative pool (``PacedTrait``), their child
/// tasks too; a test without the trait runs on the pool.
@Suite(.paced) struct PacedTraitTests {
    @Test func aTestOfAMarkedSuiteRunsOffThePool() async throws {
        #expect(OffPoolExecutor.isCurrent)
        try await Task.sleep(for: .milliseconds(10))
        #expect(OffPoolExecutor.isCurrent, "after a suspension too")
        async let child = OffPoolExecutor.isCurrent
        #expect(await child)
    }

    final class Running: Sendable { let counts = Mutex((now: 0, most: 0, done: 0)) }

    /// The slots let no more than their count through at once, and every waiter through in the end.
    @Test func slotsLetTheirCountThroughAtOnce() async {
        let slots = TestSlots(count: 2)
        let running = Running()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    await slots.acquire()
                    running.counts.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                    try? await Task.sleep(for: .milliseconds(20))
                    running.counts.withLock { $0.now -= 1; $0.done += 1 }
                    slots.release()
                }
            }
        }
        let (_, most, done) = running.counts.withLock { $0 }
        #expect(most == 2)
        #expect(done == 8)
    }
}

@Test func aTestWithoutTheTraitRunsOnThePool() {
    #expect(!OffPoolExecutor.isCurrent)
}
