import Foundation
import Logging
import Testing
import TestSupport
import VirtHost

/// The operations registry's state machine, cancel, retention and events, with jobs that wait
/// for the test to let them go (on libvirt's test driver: the jobs here need no hypervisor).
@Suite(.paced) struct OperationsTests {
    /// A job's gate: the test opens it when the job may end.
    final class Gate: Sendable {
        let stream: AsyncStream<Void>
        let continuation: AsyncStream<Void>.Continuation

        init() { (stream, continuation) = AsyncStream.makeStream() }
        func open() { continuation.finish() }
        func wait() async { for await _ in stream {} }
    }

    func makeRegistry(_ configuration: Operations.Configuration = .init()) -> Operations {
        let host = Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test.operations"))
        return Operations(host: host, configuration: configuration)
    }

    func waitUntilFinished(_ operations: Operations, _ id: String) async throws -> VirtHost.Operation {
        for _ in 0..<500 {
            let operation = try operations.operation(id)
            if operation.state.isFinished { return operation }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw OperationError.notFound("\(id) did not finish")
    }

    @Test func aJobRunsThenSucceedsAndEachChangeOfStateIsAnEvent() async throws {
        let operations = makeRegistry()
        let subscription = operations.host.events.subscribe(EventFilter(types: ["operation"]))
        let gate = Gate()
        let started = operations.start(kind: "test-job", target: .volume(pool: "p", volume: "v")) { context in
            context.report(VirtHost.Operation.Progress(processedBytes: 5, totalBytes: 10, phase: "copy"))
            await gate.wait()
            return nil
        }
        #expect(started.state == .running && started.finishedAt == nil)
        #expect(operations.list(state: .running).map(\.id) == [started.id])
        gate.open()
        let finished = try await waitUntilFinished(operations, started.id)
        #expect(finished.state == .succeeded && finished.finishedAt != nil && finished.error == nil)
        #expect(finished.progress?.percent == 50)
        var states: [VirtHost.Operation.State] = []
        while states.last != .succeeded, case .event(let event)? = await subscription.next() {
            #expect(event.kind == .operation && event.operation?.id == started.id)
            states.append(event.operation!.state)
        }
        #expect(states.first == .running && states.last == .succeeded, "\(states)")
        subscription.finish()
    }

    @Test func aCancelledJobEndsCancelledAndAFinishedOneCannotBeCancelled() async throws {
        let operations = makeRegistry()
        let gate = Gate()
        let cancelHandlerRan = Gate()
        let started = operations.start(kind: "test-job", target: .domain(name: "test", uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f"),
                                       onCancel: { cancelHandlerRan.open() }) { context in
            await gate.wait()
            if context.isCancelRequested { throw OperationError.cancelled }
            return nil
        }
        let asked = try operations.cancel(started.id)
        #expect(asked.cancelRequested && asked.state == .running)
        await cancelHandlerRan.wait()
        #expect(try operations.cancel(started.id).cancelRequested)  // asking twice is asking once
        gate.open()
        let finished = try await waitUntilFinished(operations, started.id)
        #expect(finished.state == .cancelled)
        #expect(throws: OperationError.self) { try operations.cancel(started.id) }
        #expect(throws: OperationError.self) { try operations.cancel("no-such-operation") }
        #expect(operations.list(domain: "TEST").map(\.id) == [started.id])
        #expect(operations.list(domain: "6695eb01-f6a4-8304-79aa-97f2502e193f").count == 1)
        #expect(operations.list(domain: "other").isEmpty)
    }

    @Test func aFailedJobCarriesItsError() async throws {
        let operations = makeRegistry()
        struct Broken: Error {}
        let started = operations.start(kind: "test-job", target: .volume(pool: "p", volume: "v")) { _ in throw Broken() }
        let finished = try await waitUntilFinished(operations, started.id)
        #expect(finished.state == .failed)
        #expect(finished.error?.detail.contains("Broken") == true)
    }

    @Test func atMostTheCapacityOfFinishedOperationsIsKeptAndRunningOnesAlwaysStay() async throws {
        let operations = makeRegistry(.init(retention: .seconds(3600), capacity: 2))
        let gate = Gate()
        let running = operations.start(kind: "long", target: .volume(pool: "p", volume: "long")) { _ in
            await gate.wait()
            return nil
        }
        var ids: [String] = []
        for index in 0..<3 {
            let done = operations.start(kind: "short", target: .volume(pool: "p", volume: "\(index)")) { _ in nil }
            _ = try await waitUntilFinished(operations, done.id)
            ids.append(done.id)
        }
        // The oldest finished one went; the running one stays whatever the capacity.
        #expect(Set(operations.list().map(\.id)) == Set([running.id] + ids.suffix(2)))
        #expect(operations.list(state: .succeeded).count == 2)
        // Once it finishes, it is the newest finished: the oldest of the others makes way.
        gate.open()
        _ = try await waitUntilFinished(operations, running.id)
        #expect(Set(operations.list().map(\.id)) == [running.id, ids[2]])
    }

    @Test func aFinishedOperationIsForgottenAfterTheRetention() async throws {
        let operations = makeRegistry(.init(retention: .seconds(2)))
        let done = operations.start(kind: "short", target: .volume(pool: "p", volume: "v")) { _ in nil }
        _ = try await waitUntilFinished(operations, done.id)
        try await Task.sleep(for: .milliseconds(2500))
        #expect(operations.list().isEmpty)
        #expect(throws: OperationError.self) { try operations.operation(done.id) }
    }
}
