import Foundation
import Libvirt
import Logging
import Synchronization
import Testing
import TestSupport
@testable import VirtHost

/// Domain listing and lookup on a test-driver node with a domain in each state.
@Suite(.paced) struct HostDomainsTests {
    let host = Host(configuration: .init(uri: Fixtures.domainsInEveryStateURI), logger: Logger(label: "test"))

    @Test func listsEveryDomainWithItsStateAndFigures() async throws {
        let domains = try await host.domains()
        #expect(domains.map(\.name) == ["crashed1", "off1", "paused1", "running1"])
        let byName = Dictionary(uniqueKeysWithValues: domains.map { ($0.name, $0) })

        let running = try #require(byName["running1"])
        #expect(running.uuid == "11111111-1111-4111-8111-111111111111")
        #expect(running.state == "running" && running.powerState == .running)
        #expect(running.id != nil)
        #expect(running.vcpus == 3 && running.memoryMB == 512 && running.maxMemoryMB == 1024)
        #expect(running.persistent && !running.autostart)

        let off = try #require(byName["off1"])
        #expect(off.state == "shutoff" && off.powerState == .shutdown && off.id == nil)
        #expect(off.vcpus == 4 && off.maxMemoryMB == 4096)
        #expect(byName["paused1"]?.state == "paused" && byName["paused1"]?.powerState == .paused)
        #expect(byName["crashed1"]?.state == "crashed" && byName["crashed1"]?.powerState == .crashed)

        // The same as virsh says.
        let virsh = try run("virsh", ["-c", Fixtures.domainsInEveryStateURI, "list", "--all", "--name"])
        #expect(Set(virsh.split(separator: "\n").map(String.init)) == Set(domains.map(\.name)))
    }

    /// Listings asked for together share one sweep of libvirt, yet none is older than its
    /// request: a domain defined before a listing is asked for is always in it, however many
    /// listings run meanwhile.
    @Test func sharedListingsAreNeverStale() async throws {
        let host = Host(configuration: .init(uri: try Fixtures.privateTestDriverURI()), logger: Logger(label: "test"))
        let stop = StopFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while !stop.value.load(ordering: .relaxed) { _ = try await host.domains() }
                }
            }
            for index in 0..<30 {
                let name = "fresh-\(index)"
                let uuid = String(format: "6695eb01-f6a4-8304-79aa-%012d", index)
                let xml = "<domain type='test'><name>\(name)</name><uuid>\(uuid)</uuid>"
                    + "<memory>65536</memory><os><type>hvm</type></os></domain>"
                _ = try await host.run { host throws(HostError) in try host.define(xml: xml, name: name, uuid: uuid) }
                let listed = try await host.domains()
                #expect(listed.contains { $0.name == name && !$0.autostart && $0.persistent && $0.id == nil })
                #expect(listed.count == index + 2)
            }
            stop.value.store(true, ordering: .relaxed)
            try await group.waitForAll()
        }
    }

    /// Persistence and autostart come from filtered listings: a transient domain and an
    /// autostarted one are told apart from the rest.
    @Test func tellsTransientAndAutostartedDomains() async throws {
        let host = Host(configuration: .init(uri: try Fixtures.privateTestDriverURI()), logger: Logger(label: "test"))
        try await host.withConnection { connection in
            _ = try connection.createTransientDomain(xml: "<domain type='test'><name>passing</name>"
                                                     + "<memory>65536</memory><os><type>hvm</type></os></domain>")
            try connection.lookupDomain(name: "test").setAutostart(true)
        }
        let domains = Dictionary(uniqueKeysWithValues: try await host.domains().map { ($0.name, $0) })
        #expect(domains["passing"]?.persistent == false && domains["passing"]?.autostart == false)
        #expect(domains["passing"]?.id != nil && domains["passing"]?.state == "running")
        #expect(domains["test"]?.persistent == true && domains["test"]?.autostart == true)
        #expect(try await host.domains(.inactive).isEmpty)
    }

    @Test func filtersByActivity() async throws {
        #expect(try await host.domains(.active).map(\.name) == ["crashed1", "paused1", "running1"])
        #expect(try await host.domains(.inactive).map(\.name) == ["off1"])
    }

    @Test func detailsComeFromTheDomainXML() async throws {
        let details = try await host.domain("running1")
        #expect(details.summary.name == "running1")
        #expect(details.os.type == "hvm" && details.os.arch == "x86_64")
        #expect(details.disks.count == 2)
        let file = try #require(details.disks.first { $0.target == "vda" })
        #expect(file.type == "file" && file.bus == "virtio" && file.format == "qcow2")
        #expect(file.source == "/var/lib/libvirt/images/running1.qcow2")
        let network = try #require(details.disks.first { $0.target == "vdb" })
        #expect(network.type == "network" && network.source == "pool/image")
        #expect(details.interfaces == [.init(mac: "52:54:00:12:34:56", type: "network", source: "default",
                                             model: "virtio")])
        #expect(details.cpuTimeNanoseconds > 0)
    }

    @Test func findsDomainsByUUIDOrNameAndNamesTheMissingOne() async throws {
        #expect(try await host.domain("22222222-2222-4222-8222-222222222222").summary.name == "paused1")
        #expect(try await host.domain("22222222222242228222222222222222").summary.name == "paused1")
        #expect(try await host.domain("off1").summary.uuid == "33333333-3333-4333-8333-333333333333")
        await #expect(throws: HostError.self) { try await host.domain("nope") }
        do {
            _ = try await host.domain("99999999-9999-4999-8999-999999999999")
            Issue.record("an unknown UUID was found")
        } catch {
            guard case .domainNotFound(let reference) = error else { throw error }
            #expect(reference == "99999999-9999-4999-8999-999999999999")
        }
    }

    @Test func xmlIsLiveOrPersistent() async throws {
        let live = try await host.domainXML("running1")
        let persistent = try await host.domainXML("running1", inactive: true)
        #expect(live.contains("<name>running1</name>") && live.contains("id='"))
        #expect(persistent.contains("<name>running1</name>") && !persistent.contains("id='"))
    }

    @Test func statisticsCoverEveryDomainInOneCall() async throws {
        let statistics = try await host.domainStatistics()
        #expect(statistics.map(\.summary.name) == ["crashed1", "off1", "paused1", "running1"])
        #expect(statistics.allSatisfy { $0.parameters["state.state"] != nil })
    }

    @Test func capabilitiesParseCellsAndGuests() async throws {
        let capabilities = try await Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
            .capabilities()
        #expect(capabilities.cells.map(\.id) == [0, 1])
        #expect(capabilities.cells.map(\.memoryKiB) == [2_097_152, 4_194_304])
        #expect(capabilities.cells[0].cpus == Array(0...7) && capabilities.cells[1].cpus == Array(8...15))
        #expect(capabilities.guests.map(\.osType) == ["hvm", "xen"])
        #expect(capabilities.domainTypes(arch: "i686") == ["test"])
    }

    @Test func theTestDriverHasNoDomainCapabilities() async throws {
        do {
            _ = try await host.domainCapabilities(arch: nil, machine: nil, virtType: nil)
            Issue.record("the test driver answered domain capabilities")
        } catch {
            guard case .libvirt(let libvirtError) = error else { throw error }
            #expect(libvirtError.isUnsupported)
        }
    }
}

final class StopFlag: Sendable {
    let value = Atomic(false)
}
