import FoundationEssentials
import Glibc
import Libvirt

/// Nova's HostState figures, read through the Host's one connection.
extension Host {
    /// The parsed capabilities document, read once per connection.
    public func capabilities() throws(HostError) -> HostCapabilities {
        try connectionFacts().capabilities
    }

    /// The domain capabilities for an architecture, machine and virt type (libvirt picks
    /// what is nil). Drivers without them (the test driver) throw an unsupported libvirt error.
    public func domainCapabilities(arch: String?, machine: String?, virtType: String?) throws(HostError)
        -> DomainCapabilities {
        let xml = try withConnection { try $0.domainCapabilities(arch: arch, machine: machine, virtType: virtType) }
        return try parse { try DomainCapabilities(xml: xml) }
    }

    /// vCPUs, memory, hypervisor, CPU and disk figures, as Nova's libvirt driver reports them.
    /// A sample no older than `maxAge` (``Configuration/metricsMaxAge`` when nil) is reused;
    /// a zero `maxAge` asks for a fresh one. Callers that need a fresh sample while a sweep
    /// runs share the next one (see ``CallCoalescer``): it starts after they asked, so it is
    /// as fresh as a sweep of their own, and `sampledAt` always says when it was taken.
    public nonisolated func metrics(maxAge: Duration? = nil) async throws(HostError) -> HostMetrics {
        if let sample = await reusableMetrics(maxAge: maxAge ?? configuration.metricsMaxAge) { return sample }
        return try await metricsSweeps.next(0) {
            Task { await self.answerMetrics() }
        }.get()
    }

    private func reusableMetrics(maxAge: Duration) -> HostMetrics? {
        guard let last = lastMetrics, maxAge > .zero, now - last.at <= maxAge else { return nil }
        return last.sample
    }

    private func answerMetrics() {
        metricsSweeps.answer(0) {
            Result { () throws(HostError) in
                let sample = try sweepMetrics()
                lastMetrics = (sample, now)
                return sample
            }
        }
    }

    /// One sweep: node info, CPU map and memory statistics, one `virConnectGetAllDomainStats`
    /// for every domain's disks, and the info of each running domain for its vCPUs. A domain's XML is
    /// read only when its disks changed since the last sweep (see ``DiskTypeMemo``).
    private func sweepMetrics() throws(HostError) -> HostMetrics {
        let hostname = try hostname()
        let facts = try connectionFacts()
        let capabilities = facts.capabilities
        let instancesPath = configuration.instancesPath
        let memo = diskTypeMemo
        let (metrics, newMemo) = try withConnection { connection -> (HostMetrics, [String: DiskTypeMemo]) in
            let nodeInfo = try connection.nodeInfo()
            let version = facts.hypervisorVersion
            // Every domain, running or not (Nova counts the disks of both). NOWAIT: a domain
            // busy with a long job gives what needs no job, and the rest is read one by one.
            // Not the vcpu group: for a running QEMU domain it asks QEMU for its statistics
            // (query-stats), which took twice the block group's time; virDomainGetInfo per
            // running domain reads libvirt's own state.
            let records = try connection.allDomainStats([.block], flags: [.noWait])
            let running = records.filter { $0.domain.id() != nil }

            let vcpus: HostMetrics.VCPUs
            if let map = try? connection.cpuMap() {
                vcpus = .init(total: map.online, used: vcpusUsed(running), source: "cpu_map")
            } else {
                vcpus = .init(total: nodeInfo.cpus, used: vcpusUsed(running), source: "node_info")
            }

            let memory: HostMetrics.Memory
            if let stats = try? connection.nodeMemoryStats(), let used = HostMetrics.memoryUsedKiB(stats: stats) {
                memory = .init(total: nodeInfo.memoryKiB / 1024, used: used / 1024, source: "node_memory_stats")
            } else {
                let used = running.reduce(UInt64(0)) { sum, record in
                    sum + ((try? record.domain.info().memoryKiB) ?? 0)
                }
                memory = .init(total: nodeInfo.memoryKiB / 1024, used: used / 1024, source: "domains")
            }

            let (disk, newMemo) = diskUsage(path: instancesPath, records: records, memo: memo)
            let cpu = capabilities.cpu
            return (HostMetrics(
                vcpus: vcpus, memoryMB: memory,
                hypervisor: .init(type: facts.hypervisorType, version: version.description,
                                  versionCode: version.code, hostname: hostname),
                cpuInfo: .init(arch: cpu.arch, model: cpu.model, vendor: cpu.vendor,
                               topology: HostMetrics.topology(capabilities: capabilities, nodeInfo: nodeInfo),
                               features: cpu.features),
                disk: disk,
                sampledAt: Date()), newMemo)
        }
        diskTypeMemo = newMemo
        return metrics
    }

    /// Nova's `_get_vcpu_used`: a domain that cannot be read counts as one vCPU, and is logged.
    /// `vcpu.current` where the record has it (the same figure as `virDomainGetInfo`'s).
    private func vcpusUsed(_ running: [DomainStatsRecord]) -> Int {
        running.reduce(0) { sum, record in
            if let current = record.currentVCPUs { return sum + current }
            do {
                return sum + (try record.domain.info().vcpus)
            } catch {
                logger.warning("cannot read a domain's vCPUs; counting 1",
                               metadata: ["domain": "\((try? record.domain.name()) ?? "?")", "error": "\(error)"])
                return sum + 1
            }
        }
    }

    /// Free space of the instances path minus the growth every file-backed disk of every
    /// domain, active or not, still has in it. Network and volume disks take no local space.
    /// Sizes come from the statistics' `block` group; a disk they lack (a driver without the
    /// group, a busy domain, a file that cannot be read) is read with `virDomainGetBlockInfo`,
    /// and one that cannot be read at all is logged and skipped, as Nova does.
    private func diskUsage(path: String, records: [DomainStatsRecord], memo: [String: DiskTypeMemo])
        -> (DiskUsage, [String: DiskTypeMemo]) {
        var byDomain: [String: UInt64] = [:]
        var newMemo: [String: DiskTypeMemo] = [:]
        for record in records {
            let domain = record.domain
            let blocks = record.blocks
            let signature = blocks.map { DiskTypeMemo.Signature(id: domain.id(), disks: $0) }
            let uuid = try? domain.uuid()
            let fileTargets: [String]
            if let uuid, let signature, let known = memo[uuid], known.signature == signature {
                fileTargets = known.fileTargets
            } else {
                guard let xml = try? domain.xml(), let description = try? DomainDescription(xml: xml) else { continue }
                fileTargets = description.disks.compactMap { disk in
                    // An empty CD-ROM drive has no file to grow.
                    disk.type == "file" && disk.source != nil ? disk.target : nil
                }
            }
            // Only what the statistics describe can be known unchanged next time.
            if let uuid, let signature { newMemo[uuid] = DiskTypeMemo(signature: signature, fileTargets: fileTargets) }
            let active = domain.id() != nil
            var overCommitted: UInt64 = 0
            defer { byDomain[uuid ?? "?", default: 0] += overCommitted }
            for target in fileTargets {
                if let info = blocks?.first(where: { $0.name == target }).flatMap({ Self.blockInfo($0, active: active) }) {
                    overCommitted += DiskUsage.overCommit(info)
                    continue
                }
                do {
                    overCommitted += DiskUsage.overCommit(try domain.blockInfo(target))
                } catch {
                    logger.warning("cannot read a disk's size; left out of disk_available_least", metadata: [
                        "domain": "\((try? domain.name()) ?? "?")", "disk": "\(target)", "error": "\(error)",
                    ])
                }
            }
        }
        var usage: DiskUsage
        if !FileManager.default.fileExists(atPath: path) {
            usage = DiskUsage(path: path, overCommittedBytes: byDomain.values.reduce(0, +),
                              error: "instances path \(path) does not exist")
        } else if let space = DiskUsage.fileSystem(at: path) {
            usage = DiskUsage(path: path, totalBytes: space.total, freeBytes: space.free,
                              overCommittedBytes: byDomain.values.reduce(0, +))
        } else {
            usage = DiskUsage(path: path, overCommittedBytes: byDomain.values.reduce(0, +),
                              error: "cannot read the file system of \(path): \(String(cString: strerror(errno)))")
        }
        usage.overCommittedByDomain = byDomain
        return (usage, newMemo)
    }

    /// What `virDomainGetBlockInfo` answers, from a disk's statistics; nil when they lack a
    /// figure it needs. An inactive domain's statistics are that call's figures (both read
    /// the image file). A running domain's `allocation` is QEMU's highest written offset, and
    /// `virDomainGetBlockInfo` reports the `physical` figure (QEMU's allocated size of the
    /// image) in its place when that is 0: checked against libvirt 9.0 on `qemu:///system`.
    static func blockInfo(_ stats: BlockStats, active: Bool) -> BlockInfo? {
        guard let capacity = stats.capacity else { return nil }
        if active {
            guard let physical = stats.physical else { return nil }
            let allocation = stats.allocation ?? 0
            return BlockInfo(capacity: capacity, allocation: allocation == 0 ? physical : allocation, physical: physical)
        }
        guard let allocation = stats.allocation else { return nil }
        return BlockInfo(capacity: capacity, allocation: allocation, physical: stats.physical ?? allocation)
    }
}

/// Which disks of a domain are file-backed, as its XML said, and the statistics it was read
/// with. A disk type is only in the XML, so a sweep reads a domain's XML again only when its
/// statistics differ: a disk added, removed or pointed elsewhere, or the domain started or
/// stopped (its id changes, and starting resolves volume disks).
struct DiskTypeMemo: Sendable {
    struct Signature: Sendable, Equatable {
        var id: UInt32?
        var disks: [(name: String, path: String?)]

        init(id: UInt32?, disks: [BlockStats]) {
            self.id = id
            self.disks = disks.map { ($0.name, $0.path) }
        }

        static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.id == rhs.id && lhs.disks.elementsEqual(rhs.disks) { $0.name == $1.name && $0.path == $1.path }
        }
    }

    var signature: Signature
    var fileTargets: [String]
}
