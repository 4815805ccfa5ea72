import Foundation
@testable import Libvirt
import Testing
import TestSupport

/// The binding against libvirt's built-in test driver, whose facts are fixed:
/// 16 CPUs in 2 NUMA cells, 3 GiB, one running domain named `test`.
@Suite(.paced) struct ConnectionTests {
    let connection: Connection

    init() throws {
        connection = try Connection(uri: "test:///default")
    }

    @Test func reportsTheTestDriverAndItsVersions() throws {
        #expect(try connection.hypervisorType() == "TEST")
        #expect(try connection.hypervisorVersion() == LibvirtVersion(major: 0, minor: 0, micro: 2))
        let library = try connection.libraryVersion()
        #expect(library == (try Libvirt.libraryVersion()))
        #expect(library.major >= 9)
    }

    @Test func hostnameIsTheMachines() throws {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let expected = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(try connection.hostname() == expected)
    }

    @Test func nodeInfoMatchesVirshNodeinfo() throws {
        let info = try connection.nodeInfo()
        #expect(info.model == "i686")
        #expect(info.cpus == 16)
        #expect(info.mhz == 1400)
        #expect(info.sockets == 2)
        #expect(info.cores == 2)
        #expect(info.threads == 2)
        #expect(info.numaNodes == 2)
        #expect(info.memoryKiB == 3_145_728)
    }

    @Test func capabilitiesAreTheXMLDocument() throws {
        let xml = try connection.capabilities()
        #expect(xml.contains("<capabilities>"))
        #expect(xml.contains("<arch>i686</arch>"))
    }

    @Test func listsTheRunningTestDomainInOneCall() throws {
        let all = try connection.listAllDomains()
        #expect(try all.map { try $0.name() } == ["test"])
        #expect(try connection.listAllDomains(.active).count == 1)
        #expect(try connection.listAllDomains(.inactive).isEmpty)
        #expect(try connection.listAllDomains(.persistent).count == 1)
    }

    @Test func domainFacts() throws {
        let domain = try connection.lookupDomain(name: "test")
        let uuid = try domain.uuid()
        #expect(uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f")
        #expect(try connection.lookupDomain(uuid: uuid).name() == "test")
        #expect(domain.id() == 1)
        #expect(try domain.isActive())
        #expect(try domain.isPersistent())
        #expect(try domain.autostart() == false)
        let info = try domain.info()
        #expect(info.state == .running)
        #expect(info.vcpus == 2)
        #expect(info.maxMemoryKiB == 8_388_608)
        #expect(info.memoryKiB == 2_097_152)
        #expect(try domain.xml().contains("<name>test</name>"))
    }

    @Test func anUnknownDomainIsATypedError() throws {
        let error = try #require(throws: LibvirtError.self) { try connection.lookupDomain(name: "no-such-domain") }
        #expect(error.isNoDomain)
        #expect(error.code == 42)
        #expect(error.message == "Domain not found")
        #expect(!error.isConnectionLoss)
    }

    @Test func aBadURIIsATypedError() throws {
        let error = try #require(throws: LibvirtError.self) { try Connection(uri: "nosuchdriver:///nowhere") }
        #expect(!error.message.isEmpty)
    }

    /// Errors are read on the failing thread: two threads failing at once each get their own.
    @Test func errorsAreReadOnTheFailingThread() async throws {
        let names = (0..<8).map { "nosuchdriver\($0):///x" }
        let messages = await withTaskGroup(of: String.self) { group in
            for name in names {
                group.addTask {
                    await onOwnThread {
                        do {
                            _ = try Connection(uri: name)
                            return "opened"
                        } catch let error as LibvirtError {
                            return error.message
                        } catch {
                            return "\(error)"
                        }
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for name in names {
            #expect(messages.filter { $0.hasSuffix(name) }.count == 1, "one error must name \(name): \(messages)")
        }
    }

    /// libvirt's default handler would print every error to stderr; the binding silences it.
    @Test func libvirtPrintsNothingToStderr() throws {
        let output = try captureStandardError {
            _ = try? Connection(uri: "quietplease:///x")
        }
        #expect(!output.contains("quietplease"), "libvirt printed: \(output)")
    }
}

@Suite(.paced) struct LibvirtVersionTests {
    @Test func codeRoundTrips() {
        let version = LibvirtVersion(code: 9_000_000)
        #expect(version == LibvirtVersion(major: 9, minor: 0, micro: 0))
        #expect(version.description == "9.0.0")
        #expect(LibvirtVersion(major: 1, minor: 2, micro: 3).code == 1_002_003)
    }

    @Test(arguments: [("9.0.0", 9_000_000), ("7.2", 7_002_000), ("4", 4_000_000), ("1.2.3", 1_002_003)])
    func parses(text: String, code: Int) {
        #expect(LibvirtVersion(text)?.code == code)
    }

    @Test(arguments: ["", "1.", ".1", "1.2.3.4", "a.b", "1.1000", "-1", "1.2.x", "１.2"])
    func rejects(text: String) {
        #expect(LibvirtVersion(text) == nil)
    }
}

/// Runs `body` on a thread of its own, so blocking C calls stay off the cooperative pool.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// What `body` wrote to the process's stderr.
func captureStandardError(_ body: () throws -> Void) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID().uuidString)").path
    let file = open(path, O_CREAT | O_RDWR | O_TRUNC, 0o600)
    defer { close(file); unlink(path) }
    let saved = dup(STDERR_FILENO)
    dup2(file, STDERR_FILENO)
    defer { dup2(saved, STDERR_FILENO); close(saved) }
    try body()
    return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// `DomainStatsRecord.blocks`: the `block.<n>.*` parameters as libvirt lays them out,
/// with a backing chain (`.backing`) whose entries repeat their disk's name after the top.
@Suite(.paced) struct DomainStatsBlockTests {
    @Test func blocksAreTheTopImagesWithTheirExactSizes() throws {
        let domain = try Connection(uri: "test:///default").lookupDomain(name: "test")
        let big = UInt64(1) << 60  // beyond a Double's exact integers
        let record = DomainStatsRecord(domain: domain, parameters: [
            .init(field: "state.state", value: .int(1)),
            .init(field: "vcpu.current", value: .uint(2)),
            .init(field: "block.count", value: .uint(4)),
            .init(field: "block.0.name", value: .string("vda")),
            .init(field: "block.0.path", value: .string("/images/vda.qcow2")),
            .init(field: "block.0.allocation", value: .ullong(200_704)),
            .init(field: "block.0.capacity", value: .ullong(big + 1)),
            .init(field: "block.0.physical", value: .ullong(196_640)),
            .init(field: "block.1.name", value: .string("vda")),
            .init(field: "block.1.path", value: .string("/images/base.qcow2")),
            .init(field: "block.1.backingIndex", value: .uint(1)),
            .init(field: "block.1.capacity", value: .ullong(1 << 30)),
            .init(field: "block.2.name", value: .string("vdb")),
            .init(field: "block.3.name", value: .string("sda")),
            .init(field: "block.3.path", value: .string("/images/seed.iso")),
        ])
        let blocks = try #require(record.blocks)
        #expect(blocks == [
            BlockStats(name: "vda", path: "/images/vda.qcow2", allocation: 200_704, capacity: big + 1, physical: 196_640),
            BlockStats(name: "vdb", path: nil, allocation: nil, capacity: nil, physical: nil),
            BlockStats(name: "sda", path: "/images/seed.iso", allocation: nil, capacity: nil, physical: nil),
        ])
        #expect(record.currentVCPUs == 2)
        // No block group at all (the test driver's records): nil, not an empty list.
        #expect(DomainStatsRecord(domain: domain, parameters: [.init(field: "state.state", value: .int(1))]).blocks == nil)
    }
}
