import Foundation
import Libvirt
import Logging
import Testing
import TestSupport
@testable import VirtHost

/// Nova's host figures on libvirt's test driver, each checked against what `virsh` reports.
@Suite(.paced) struct HostMetricsTests {
    let logs = LogCapture()

    func makeHost(uri: String = "test:///default", instancesPath: String = NSTemporaryDirectory()) -> Host {
        Host(configuration: .init(uri: uri, instancesPath: instancesPath), logger: logs.logger)
    }

    /// `virsh <command>` output as `key: value` pairs.
    func virsh(_ uri: String, _ arguments: String...) throws -> [String: String] {
        var fields: [String: String] = [:]
        for line in try run("virsh", ["-c", uri] + arguments).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    func leadingNumber(_ text: String?) -> Int? {
        text.flatMap { Int($0.prefix { $0.isNumber }) }
    }

    @Test func figuresMatchVirshOnTheDefaultTestDriver() async throws {
        let uri = "test:///default"
        let metrics = try await makeHost().metrics()
        let nodeinfo = try virsh(uri, "nodeinfo")
        let cpumap = try virsh(uri, "nodecpumap")
        let dominfo = try virsh(uri, "dominfo", "test")

        #expect(metrics.vcpus.source == "cpu_map")
        #expect(metrics.vcpus.total == leadingNumber(cpumap["CPUs online"]))
        #expect(metrics.vcpus.used == leadingNumber(dominfo["CPU(s)"]))
        #expect(metrics.vcpus.used == 2)

        #expect(metrics.memoryMB.total == 3072)
        #expect(metrics.memoryMB.total * 1024 == leadingNumber(nodeinfo["Memory size"]).map(UInt64.init))
        // The test driver has no node memory statistics: the running domains' memory is used.
        #expect(metrics.memoryMB.source == "domains")
        #expect(metrics.memoryMB.used * 1024 == leadingNumber(dominfo["Used memory"]).map(UInt64.init))

        #expect(metrics.hypervisor.type == "TEST")
        #expect(metrics.hypervisor.version == "0.0.2")
        #expect(metrics.hypervisor.versionCode == 2)
        #expect(metrics.hypervisor.hostname == (try Connection(uri: uri).hostname()))

        let topology = metrics.cpuInfo.topology
        #expect(topology.sockets == leadingNumber(nodeinfo["CPU socket(s)"]))
        #expect(topology.cores == leadingNumber(nodeinfo["Core(s) per socket"]))
        #expect(topology.threads == leadingNumber(nodeinfo["Thread(s) per core"]))
        #expect(topology.cells == leadingNumber(nodeinfo["NUMA cell(s)"]))
        #expect((topology.sockets, topology.cores, topology.threads, topology.cells) == (2, 2, 2, 2))
        #expect(metrics.cpuInfo.arch == "i686")
        #expect(metrics.cpuInfo.model == nil)
        #expect(metrics.cpuInfo.features == ["nonpae", "pae"])
        #expect(abs(metrics.sampledAt.timeIntervalSinceNow) < 60)
    }

    @Test func sumsCountEveryActiveDomainAndNoInactiveOne() async throws {
        let metrics = try await makeHost(uri: Fixtures.domainsInEveryStateURI).metrics()
        // running1 (3 vCPUs, 512 MiB), paused1 (2, 2048 MiB) and crashed1 (1, 1024 MiB) are
        // active; off1 (4 vCPUs, 4096 MiB) is not.
        #expect(metrics.vcpus.used == 6)
        #expect(metrics.memoryMB.used == 512 + 2048 + 1024)
        #expect(metrics.memoryMB.source == "domains")
    }

    @Test func diskFiguresAreThoseOfTheInstancesPathFileSystem() async throws {
        let path = NSTemporaryDirectory()
        let disk = try await makeHost(instancesPath: path).metrics().disk
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: path)
        let size = try #require((attributes[.systemSize] as? NSNumber)?.uint64Value)
        #expect(disk.error == nil)
        #expect(disk.path == path)
        #expect(disk.totalBytes == size)
        let free = try #require(disk.freeBytes)
        #expect(free > 0 && free <= size)
        // The default test driver's only domain has no disk: nothing is over-committed.
        #expect(disk.overCommittedBytes == 0)
        #expect(disk.availableLeastBytes == Int64(free))
    }

    @Test func aMissingInstancesPathIsAnErrorInTheDiskFieldOnly() async throws {
        let metrics = try await makeHost(instancesPath: "/nonexistent/virthost-images").metrics()
        #expect(metrics.disk.error == "instances path /nonexistent/virthost-images does not exist")
        #expect(metrics.disk.totalBytes == nil && metrics.disk.freeBytes == nil)
        #expect(metrics.disk.availableLeastBytes == nil)
        #expect(metrics.vcpus.total > 0)
    }

    @Test func aRecentSampleIsReusedAndMaxAgeZeroForcesAFreshOne() async throws {
        let host = makeHost()
        let first = try await host.metrics(maxAge: .seconds(60))
        let reused = try await host.metrics(maxAge: .seconds(60))
        #expect(reused.sampledAt == first.sampledAt)
        try await Task.sleep(for: .milliseconds(5))
        let fresh = try await host.metrics(maxAge: .zero)
        #expect(fresh.sampledAt > first.sampledAt)
        // Requests arriving together share one sweep.
        let together = try await withThrowingTaskGroup(of: Date.self) { group in
            for _ in 0..<20 { group.addTask { try await host.metrics(maxAge: .seconds(60)).sampledAt } }
            return try await group.reduce(into: Set<Date>()) { $0.insert($1) }
        }
        #expect(together == [fresh.sampledAt])
    }

    /// A running domain's disk figures, read from the file as Nova reads them: `stat`'s
    /// blocks, a raw file's size, a qcow2's virtual size from its header (here against
    /// `qemu-img info`). Anything it cannot vouch for is nil, for libvirt to answer.
    @Test func diskImageFiguresAreTheFilesOwn() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("virthost-image-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let qcow2 = directory.appendingPathComponent("disk.qcow2").path
        let raw = directory.appendingPathComponent("disk.raw").path
        _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", qcow2, "5G"])
        _ = try run("truncate", ["-s", "1G", raw])
        _ = try run("dd", ["if=/dev/zero", "of=\(raw)", "bs=1M", "count=1", "seek=4", "conv=notrunc", "status=none"])
        func blocks(_ path: String) throws -> UInt64 {
            try #require(UInt64(try run("stat", ["-c", "%b", path]).trimmingCharacters(in: .whitespacesAndNewlines))) * 512
        }
        let info = try JSONSerialization.jsonObject(with: Data(try run("qemu-img", ["info", "--output=json", qcow2]).utf8))
            as? [String: Any]
        let qcow2Info = try #require(DiskImage.blockInfo(path: qcow2, format: "qcow2"))
        #expect(qcow2Info.capacity == 5 << 30)
        #expect(qcow2Info.capacity == (info?["virtual-size"] as? Int).map(UInt64.init))
        #expect(qcow2Info.allocation == (try blocks(qcow2)))
        let rawInfo = try #require(DiskImage.blockInfo(path: raw, format: "raw"))
        #expect(rawInfo.capacity == 1 << 30 && rawInfo.physical == 1 << 30)
        #expect(rawInfo.allocation == (try blocks(raw)) && rawInfo.allocation < 2 << 20)
        // A raw file called qcow2, a format read no further, a directory, a missing file.
        #expect(DiskImage.blockInfo(path: raw, format: "qcow2") == nil)
        #expect(DiskImage.blockInfo(path: qcow2, format: "vmdk") == nil)
        #expect(DiskImage.blockInfo(path: directory.path, format: "raw") == nil)
        #expect(DiskImage.blockInfo(path: directory.appendingPathComponent("none").path, format: "raw") == nil)
        // A FIFO where an image was: refused at once, never waited on.
        let fifo = directory.appendingPathComponent("fifo").path
        _ = try run("mkfifo", [fifo])
        #expect(DiskImage.blockInfo(path: fifo, format: "qcow2") == nil)
    }

    @Test func overCommitIsWhatADiskMayStillGrow() {
        // qcow2: 10 GiB virtual, 1 GiB written.
        #expect(DiskUsage.overCommit(BlockInfo(capacity: 10 << 30, allocation: 1 << 30, physical: 1 << 30)) == 9 << 30)
        // A sparse raw file of 512 MiB with 3 MiB of blocks allocated.
        #expect(DiskUsage.overCommit(BlockInfo(capacity: 512 << 20, allocation: 3 << 20, physical: 512 << 20))
            == 509 << 20)
        // A full qcow2 occupies more than its virtual size (metadata): it cannot grow.
        #expect(DiskUsage.overCommit(BlockInfo(capacity: 1 << 30, allocation: (1 << 30) + 4096, physical: 0)) == 0)
        // Available least goes negative when disks could outgrow the free space, as in Nova.
        let usage = DiskUsage(path: "/x", totalBytes: 100, freeBytes: 10, overCommittedBytes: 25)
        #expect(usage.availableLeastBytes == -15)
    }

    @Test func memoryUsedIsTotalLessFreeBuffersAndCache() {
        #expect(HostMetrics.memoryUsedKiB(stats: ["total": 1000, "free": 100, "buffers": 50, "cached": 250]) == 600)
        #expect(HostMetrics.memoryUsedKiB(stats: ["total": 1000, "free": 100]) == 900)
        #expect(HostMetrics.memoryUsedKiB(stats: ["free": 100]) == nil)
    }
}
