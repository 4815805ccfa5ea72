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
    /// for the inactive domains' disks, and the info and XML of each running domain. An
    /// inactive domain's XML is read only when its disks changed (see ``DiskTypeMemo``).
    private func sweepMetrics() throws(HostError) -> HostMetrics {
        let hostname = try hostname()
        let facts = try connectionFacts()
        let capabilities = facts.capabilities
        let instancesPath = configuration.instancesPath
        let memo = diskTypeMemo
        let (metrics, newMemo) = try withConnection { connection -> (HostMetrics, [String: DiskTypeMemo]) in
            let nodeInfo = try connection.nodeInfo()
            let version = facts.hypervisorVersion
            // Inactive domains: their disks' sizes in one call, read from the image files by
            // libvirt. NOWAIT: a domain busy with a long job gives what needs no job, and the
            // rest is read one by one. Not the running ones: for those libvirt asks QEMU
            // (three monitor commands each, 10 to 20 ms a domain on a loaded host, and a hung
            // QEMU would hold the sweep), and reports QEMU's highest written offset, not what
            // the file occupies. Their files are read as Nova reads them (see ``DiskImage``).
            let inactive = try connection.allDomainStats([.block], flags: [.inactive, .noWait])
            let running = try connection.listAllDomains(.active)

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
                let used = running.reduce(UInt64(0)) { sum, domain in sum + ((try? domain.info().memoryKiB) ?? 0) }
                memory = .init(total: nodeInfo.memoryKiB / 1024, used: used / 1024, source: "domains")
            }

            // A volume disk's file, looked up once a sweep: the XML names only pool and volume.
            var volumeFiles: [String: String?] = [:]
            func volumeFile(_ source: String) -> String? {
                if let known = volumeFiles[source] { return known }
                let parts = source.split(separator: "/", maxSplits: 1).map(String.init)
                var file: String?
                if parts.count == 2, let pool = try? connection.lookupStoragePool(name: parts[0]),
                   let volume = try? pool.lookupVolume(name: parts[1]), (try? volume.info().type) == .file {
                    file = try? volume.path()
                }
                volumeFiles[source] = file
                return file
            }
            let (disk, newMemo) = diskUsage(path: instancesPath, inactive: inactive, running: running, memo: memo,
                                            volumeFile: volumeFile)
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
    private func vcpusUsed(_ running: [Domain]) -> Int {
        running.reduce(0) { sum, domain in
            do {
                return sum + (try domain.info().vcpus)
            } catch {
                logger.warning("cannot read a domain's vCPUs; counting 1",
                               metadata: ["domain": "\((try? domain.name()) ?? "?")", "error": "\(error)"])
                return sum + 1
            }
        }
    }

    /// Free space of the instances path minus the growth every file-backed disk of every
    /// domain, active or not, still has in it (capacity − allocation); a volume disk whose
    /// volume is a file counts as a file disk. Network and block disks take no local space. Inactive domains' sizes come from their statistics,
    /// running ones' from their files (``DiskImage``); a disk neither gives (a driver without
    /// the block group, a busy domain, a format other than raw and qcow2, a file this process
    /// cannot read) is asked of `virDomainGetBlockInfo`, and one that cannot be read at all is
    /// logged and skipped, as Nova does.
    private func diskUsage(path: String, inactive: [DomainStatsRecord], running: [Domain],
                           memo: [String: DiskTypeMemo], volumeFile: (String) -> String?)
        -> (DiskUsage, [String: DiskTypeMemo]) {
        var byDomain: [String: UInt64] = [:]
        var newMemo: [String: DiskTypeMemo] = [:]
        func add(_ domain: Domain, _ disks: [FileDisk], sizes: (FileDisk) -> BlockInfo?) {
            var overCommitted: UInt64 = 0
            for disk in disks {
                if let info = sizes(disk) {
                    overCommitted += DiskUsage.overCommit(info)
                    continue
                }
                do {
                    overCommitted += DiskUsage.overCommit(try domain.blockInfo(disk.target))
                } catch {
                    logger.warning("cannot read a disk's size; left out of disk_available_least", metadata: [
                        "domain": "\((try? domain.name()) ?? "?")", "disk": "\(disk.target)", "error": "\(error)",
                    ])
                }
            }
            byDomain[(try? domain.uuid()) ?? "?", default: 0] += overCommitted
        }
        for record in inactive {
            let domain = record.domain
            let blocks = record.blocks
            let signature = blocks.map { DiskTypeMemo.Signature(id: domain.id(), disks: $0) }
            let uuid = try? domain.uuid()
            let disks: [FileDisk]
            if let uuid, let signature, let known = memo[uuid], known.signature == signature {
                disks = known.fileDisks
            } else {
                guard let xml = try? domain.xml() else { continue }
                disks = FileDisk.all(xml: xml, volumeFile: volumeFile)
            }
            // Only what the statistics describe can be known unchanged next time.
            if let uuid, let signature { newMemo[uuid] = DiskTypeMemo(signature: signature, fileDisks: disks) }
            add(domain, disks) { disk in
                // An inactive domain's volume disk has no figures in its statistics: its file has.
                blocks?.first { $0.name == disk.target }.flatMap(Self.blockInfo)
                    ?? (disk.isVolume ? DiskImage.blockInfo(path: disk.path, format: disk.format) : nil)
            }
        }
        for domain in running {
            // The live XML: a disk plugged in since the start is in it.
            guard let xml = try? domain.xml() else { continue }
            add(domain, FileDisk.all(xml: xml, volumeFile: volumeFile)) { DiskImage.blockInfo(path: $0.path, format: $0.format) }
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

    /// An inactive domain's disk figures from its statistics: libvirt reads them from the
    /// image file, as `virDomainGetBlockInfo` does for an inactive domain (the same figures,
    /// checked against libvirt 9.0 on `qemu:///system`). Nil when one is missing.
    static func blockInfo(_ stats: BlockStats) -> BlockInfo? {
        guard let capacity = stats.capacity, let allocation = stats.allocation else { return nil }
        return BlockInfo(capacity: capacity, allocation: allocation, physical: stats.physical ?? allocation)
    }
}

/// A file-backed disk of a domain, as its XML says: the disks that can grow on local storage,
/// file disks and volume disks whose volume is a file.
struct FileDisk: Sendable, Equatable {
    var target: String
    var path: String
    var format: String?
    /// A `volume` disk, its path found through its pool.
    var isVolume = false

    /// The file disks of a domain XML document (an empty CD-ROM drive has no file to grow).
    /// `volumeFile` gives the file of a volume disk's `pool/volume`, nil when it is no file.
    static func all(xml: String, volumeFile: (String) -> String? = { _ in nil }) -> [FileDisk] {
        guard let description = try? DomainDescription(xml: xml) else { return [] }
        return description.disks.compactMap { disk in
            guard let target = disk.target, let source = disk.source else { return nil }
            switch disk.type {
            case "file": return FileDisk(target: target, path: source, format: disk.format)
            case "volume":
                return volumeFile(source).map { FileDisk(target: target, path: $0, format: disk.format, isVolume: true) }
            default: return nil
            }
        }
    }
}

/// Which disks of an inactive domain are file-backed, as its XML said, and the statistics it
/// was read with. A disk type is only in the XML, so a sweep reads the XML again only when the
/// statistics differ: a disk added, removed or pointed elsewhere. A change of type alone cannot
/// hide behind the same statistics: only local storage has a path there, and a volume disk
/// has none until the domain starts. (A running domain's live XML is read on every sweep.)
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
    var fileDisks: [FileDisk]
}
