import Foundation
import Locking
import Testing
import TestSupport
@testable import VirtHost

/// Callers that wait together get one answer; a caller that comes while the work runs gets
/// the next answer, never the one being worked out.
@Suite(.paced) struct CallCoalescerTests {
    final class Counter: Sendable {
        let count = Mutex(0)
        func add() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    @Test func waitersShareOneAnswerAndLateComersGetTheNext() async throws {
        let coalescer = CallCoalescer<String, Int>()
        let schedules = Counter()
        let works = Counter()
        func ask() -> Task<Int, Never> {
            Task { await coalescer.next("list") { schedules.add() } }
        }

        let first = (0..<10).map { _ in ask() }
        while coalescer.waiting(on: "list") < 10 { await Task.yield() }
        var lateComer: Task<Int, Never>?
        coalescer.answer("list") {
            works.add()
            // Asked while the answer is being worked out: must wait for the next one.
            lateComer = ask()
            while coalescer.waiting(on: "list") == 0 { usleep(1000) }
            return 1
        }
        for task in first { #expect(await task.value == 1) }
        #expect(works.value == 1)
        #expect(schedules.value == 2, "the late comer started a round of its own")

        coalescer.answer("list") { 2 }
        #expect(await lateComer?.value == 2)
        #expect(coalescer.waiting(on: "list") == 0)
        // Nobody waiting: no work is done.
        coalescer.answer("list") {
            Issue.record("worked for nobody")
            return 3
        }
    }
}
