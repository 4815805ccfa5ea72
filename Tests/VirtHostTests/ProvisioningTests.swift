import Foundation
import GuestConfig
import Libvirt
import Locking
import Logging
import Testing
import TestSupport
@testable import VirtHost

/// The undo list and the per-domain locks the provisioning sequences run under.
@Suite(.paced) struct ProvisioningTests {
    @Test func undoRunsNewestFirstAndReportsWhatStayed() async throws {
        let order = Mutex<[String]>([])
        var undo = Undo()
        for step in ["filter", "definition", "start"] {
            undo.register(step) {
                order.withLock { $0.append(step) }
                return step != "definition"
            }
        }
        #expect(await undo.rollback() == ["definition"])
        #expect(order.withLock { $0 } == ["start", "definition", "filter"])
        #expect(await undo.rollback() == [])  // forgotten once run
    }

    @Test func aFailedSequenceIsUndoneAndASucceededOneIsNot() async throws {
        struct Failure: Error {}
        let undone = Mutex<[String]>([])
        await #expect(throws: Failure.self) {
            try await Undo.run("test", logger: Logger(label: "test")) { undo in
                undo.register("made") { undone.withLock { $0.append("made") }; return true }
                throw Failure()
            }
        }
        _ = try await Undo.run("test", logger: Logger(label: "test")) { undo in
            undo.register("kept") { undone.withLock { $0.append("kept") }; return true }
        }
        #expect(undone.withLock { $0 } == ["made"])
    }

    /// Two holders of one key never overlap; holders of other keys do not wait.
    @Test func locksSerialiseOneDomainAndNotOthers() async throws {
        let locks = DomainLocks()
        let overlap = Overlap()
        let key = DomainLocks.keys(uuid: "6695EB01-F6A4-8304-79AA-97F2502E193F", name: nil)
        // The same UUID in other spellings, with other names: one lock.
        let keySets = (0..<20).map { index in
            index.isMultiple(of: 2) ? key
                : DomainLocks.keys(uuid: "6695eb01f6a4830479aa97f2502e193f", name: "guest-\(index)")
        }
        await withTaskGroup(of: Void.self) { group in
            for keys in keySets {
                group.addTask { await overlap.enter(locks, keys) }
            }
        }
        #expect(overlap.most == 1)
        #expect(locks.heldKeys.isEmpty)
        // Another domain's lock is free while this one is held.
        await locks.withLock(key) {
            let other = Task { await locks.withLock(DomainLocks.keys(uuid: nil, name: "other")) { true } }
            let result = await other.value
            #expect(result)
        }
    }

    /// Concurrent creates of one UUID on the test driver: one guest, the rest refused as
    /// existing, none failing half-way.
    /// A power action on a guest waits while a multi-step change of that guest holds its lock.
    @Test func aPowerActionWaitsForAChangeOfTheSameGuest() async throws {
        let host = Host(configuration: .init(uri: try Fixtures.privateTestDriverURI()), logger: Logger(label: "test"))
        let guest = try await host.guest(for: "test")
        #expect(try await guest.state() == .running)
        let pause = try await host.domainLocks.withLock(DomainLocks.keys(uuid: guest.uuid.uppercased(), name: "test")) {
            let pause = Task { try await guest.perform(.pause) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await guest.state() == .running, "the pause went ahead while the guest was locked")
            return pause
        }
        _ = try await pause.value
        #expect(try await guest.state() == .paused)
    }

    @Test func concurrentCreatesOfOneUUIDMakeOneGuest() async throws {
        let host = Host(configuration: .init(uri: try Fixtures.privateTestDriverURI()), logger: Logger(label: "test"))
        let provisioning = Provisioning(host: host)
        let uuid = UUID().uuidString.lowercased()
        let results = await withTaskGroup(of: Result<String, any Error>.self) { group in
            for index in 0..<10 {
                group.addTask {
                    await Result {
                        let json = #"{"name":"race-\#(index)","uuid":"\#(uuid)","memory_mb":64,"virt_type":"test"}"#
                        let spec = try #require(GuestSpec.read(json: Array(json.utf8)).0)
                        let definition = try await provisioning.definition(of: spec, readErrors: [], pointer: "/spec")
                        return try await provisioning.createGuest(definition, name: spec.name, start: true,
                                                                  paused: false).summary.uuid
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let created = results.compactMap { try? $0.get() }
        #expect(created == [uuid])
        for case .failure(let error) in results {
            guard case HostError.domainExists = error else {
                Issue.record("unexpected \(error)")
                continue
            }
        }
        #expect(try await host.domains().filter { $0.uuid == uuid }.count == 1)
    }
}

/// Counts holders of a lock at once.
final class Overlap: Sendable {
    private let state = Mutex((inside: 0, most: 0))

    var most: Int { state.withLock { $0.most } }

    func enter(_ locks: DomainLocks, _ keys: Set<String>) async {
        await locks.withLock(keys) {
            state.withLock { $0.inside += 1; $0.most = max($0.most, $0.inside) }
            try? await Task.sleep(for: .milliseconds(2))
            state.withLock { $0.inside -= 1 }
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
