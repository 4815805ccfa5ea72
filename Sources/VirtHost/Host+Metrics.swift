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
    /// A sample no older than `maxAge` (``Configuration/metricsMaxAge`` when nil) is reused:
    /// the Host runs one call at a time, so requests that arrive together share one sweep of
    /// libvirt, and `sampledAt` always says when that was. A zero `maxAge` forces a fresh one.
    public func metrics(maxAge: Duration? = nil) throws(HostError) -> HostMetrics {
        let maxAge = maxAge ?? configuration.metricsMaxAge
        if let last = lastMetrics, maxAge > .zero, now - last.at <= maxAge { return last.sample }
        let sample = try sweepMetrics()
        lastMetrics = (sample, now)
        return sample
    }

    private func sweepMetrics() throws(HostError) -> HostMetrics {
        let hostname = try hostname()
        let facts = try connectionFacts()
        let capabilities = facts.capabilities
        let instancesPath = configuration.instancesPath
        return try withConnection { connection in
            let nodeInfo = try connection.nodeInfo()
            let version = facts.hypervisorVersion
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

            let cpu = capabilities.cpu
            return HostMetrics(
                vcpus: vcpus, memoryMB: memory,
                hypervisor: .init(type: facts.hypervisorType, version: version.description,
                                  versionCode: version.code, hostname: hostname),
                cpuInfo: .init(arch: cpu.arch, model: cpu.model, vendor: cpu.vendor,
                               topology: HostMetrics.topology(capabilities: capabilities, nodeInfo: nodeInfo),
                               features: cpu.features),
                disk: diskUsage(path: instancesPath, domains: try connection.listAllDomains()),
                sampledAt: Date())
        }
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
    /// domain, active or not, still has in it. Network and volume disks take no local space.
    /// A disk that cannot be read is logged and skipped, as Nova does.
    private func diskUsage(path: String, domains: [Domain]) -> DiskUsage {
        var overCommitted: UInt64 = 0
        for domain in domains {
            guard let xml = try? domain.xml(), let description = try? DomainDescription(xml: xml) else { continue }
            for disk in description.disks where disk.type == "file" {
                guard let target = disk.target else { continue }
                do {
                    overCommitted += DiskUsage.overCommit(try domain.blockInfo(target))
                } catch {
                    logger.warning("cannot read a disk's size; left out of disk_available_least", metadata: [
                        "domain": "\((try? domain.name()) ?? "?")", "disk": "\(target)", "error": "\(error)",
                    ])
                }
            }
        }
        guard FileManager.default.fileExists(atPath: path) else {
            return DiskUsage(path: path, overCommittedBytes: overCommitted,
                             error: "instances path \(path) does not exist")
        }
        guard let space = DiskUsage.fileSystem(at: path) else {
            return DiskUsage(path: path, overCommittedBytes: overCommitted,
                             error: "cannot read the file system of \(path): \(String(cString: strerror(errno)))")
        }
        return DiskUsage(path: path, totalBytes: space.total, freeBytes: space.free, overCommittedBytes: overCommitted)
    }
}
