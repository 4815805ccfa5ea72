import GuestConfig
import Libvirt

/// The checks before a migration, made with one connection to each host and changing nothing
/// on either: where the guest would run, whether its CPU, memory, disks, interfaces and name
/// fit the destination. Blocking; called on a thread of its own (``Migrations``).
enum MigrationCheck {
    /// The domain as the source sees it, read once.
    struct Source {
        var name: String
        var uuid: String
        var running: Bool
        var memoryKiB: UInt64
        var migratableXML: String
        var domain: XMLTree.Element
        var hostUUID: String?
        /// What the source's hypervisor gives a guest here (its domain capabilities' host-model
        /// CPU, as a custom CPU): a `host-passthrough` guest needs at least that on the destination.
        var hypervisorCPU: String?

        var neededMB: UInt64 { (memoryKiB + 1023) / 1024 }
        /// The problem when the guest does not run, or nil.
        var notRunning: MigrationPlan.Problem? {
            running ? nil : .init(code: "not-running", detail: "domain \(name) is not running: only a running guest migrates live")
        }
    }

    static func source(_ connection: Connection, uuid: String) throws -> Source {
        let domain = try connection.lookupDomain(uuid: uuid)
        let running = try domain.isActive()
        let xml = try domain.xml(running ? [] : [.inactive])
        let migratable = try domain.xml(running ? [.migratable] : [.migratable, .inactive])
        let capabilities = try? XMLTree(try connection.capabilities(), root: "capabilities").root
        let root = try XMLTree(xml, root: "domain").root
        return Source(name: try domain.name(), uuid: uuid, running: running, memoryKiB: try domain.info().memoryKiB,
                      migratableXML: migratable, domain: root, hostUUID: capabilities?.at("host", "uuid")?.text,
                      hypervisorCPU: hypervisorCPU(connection, root))
    }

    /// The source hypervisor's host-model CPU for this guest's emulator, arch, machine and virt
    /// type, as `<cpu mode='custom' match='exact'>` with its model, vendor and features.
    static func hypervisorCPU(_ connection: Connection, _ domain: XMLTree.Element) -> String? {
        let os = domain.at("os", "type")
        guard let xml = try? connection.domainCapabilities(emulator: domain.at("devices", "emulator")?.text,
                                                           arch: os?.attribute("arch"), machine: os?.attribute("machine"),
                                                           virtType: domain.attribute("type")),
              let capabilities = try? XMLTree(xml, root: "domainCapabilities").root,
              let hostModel = capabilities.child("cpu")?.children("mode").first(where: { $0.attribute("name") == "host-model" })
        else { return nil }
        let parts = hostModel.childElements.filter { ["model", "vendor", "feature"].contains($0.name) }
        guard parts.contains(where: { $0.name == "model" }) else { return nil }
        return XMLTree.Element(name: "cpu", attributes: [("mode", "custom"), ("match", "exact")], childElements: parts,
                               ownText: "").xmlString
    }

    /// The plan: every check made, every problem found, against an open destination.
    static func plan(_ source: Source, sourceConnection: Connection, destination: Connection,
                     copyStorage: MigrationRequest.CopyStorage) -> MigrationPlan {
        var problems = [source.notRunning].compactMap { $0 }
        let destinationCapabilities = try? XMLTree(try destination.capabilities(), root: "capabilities").root
        if let here = source.hostUUID, let there = destinationCapabilities?.at("host", "uuid")?.text, here == there {
            problems.append(.init(code: "same-host", detail: "the destination is this host (host UUID \(here))"))
        }
        let byName = try? destination.lookupDomain(name: source.name)
        let byUUID = try? destination.lookupDomain(uuid: source.uuid)
        let nameConflict = byName != nil || byUUID != nil
        if byName != nil {
            problems.append(.init(code: "name-conflict", detail: "the destination has a domain named \(source.name)"))
        } else if byUUID != nil {
            problems.append(.init(code: "name-conflict", detail: "the destination has a domain with UUID \(source.uuid)"))
        }
        let neededMB = source.neededMB
        let freeMB = (try? destination.freeMemory()).map { $0 / 1_048_576 }
        if let freeMB, freeMB < neededMB {
            problems.append(.init(code: "insufficient-memory",
                                  detail: "the guest needs \(neededMB) MB; the destination has \(freeMB) MB free"))
        }
        let cpu = cpuCheck(source, destination: destination)
        if !cpu.compatible { problems.append(.init(code: "cpu-incompatible", detail: cpu.detail)) }
        let disks = diskChecks(source.domain, sourceConnection: sourceConnection, destination: destination,
                               copyStorage: copyStorage)
        for disk in disks where disk.action == .refuse {
            let code = disk.shared || copyStorage == .all ? "disk-target-missing" : "disk-not-shared"
            problems.append(.init(code: code, detail: "disk \(disk.target) (\(disk.source)): \(disk.detail)"))
        }
        let interfaces = interfaceChecks(source.domain, destination: destination)
        for interface in interfaces where !interface.presentOnDestination {
            problems.append(.init(code: "interface-missing",
                                  detail: "interface \(interface.mac) needs \(interface.type) \(interface.source ?? "?"), "
                                      + "which the destination does not have"))
        }
        // Network disks libvirt knows to be shared; the others staying were proven so here.
        let provenShared = zip(fileDisks(source.domain), disks).contains { file, disk in
            file.type != "network" && disk.shared && disk.action == .none
        }
        return MigrationPlan(problems: problems, cpu: cpu, memory: .init(neededMB: neededMB, destinationFreeMB: freeMB),
                             disks: disks, interfaces: interfaces, nameConflict: nameConflict,
                             migratableXML: source.migratableXML, domainName: source.name, domainUUID: source.uuid,
                             hasProvenSharedDisks: provenShared)
    }

    /// The plan when the destination cannot be reached: only what the source alone can say.
    static func unreachable(_ source: Source, destination: String, reason: String) -> MigrationPlan {
        let problems = [source.notRunning].compactMap { $0 }
            + [MigrationPlan.Problem(code: "destination-unreachable", detail: "cannot connect to \(destination): \(reason)")]
        let notChecked = "not checked: the destination did not answer"
        let disks = fileDisks(source.domain).map { disk in
            MigrationPlan.Disk(target: disk.target, source: disk.path, shared: false, action: .refuse, detail: notChecked)
        }
        let interfaces = guestInterfaces(source.domain).map { interface in
            MigrationPlan.Interface(mac: interface.mac, type: interface.type, source: interface.source,
                                    presentOnDestination: false)
        }
        return MigrationPlan(problems: problems, cpu: .init(compatible: false, detail: notChecked),
                             memory: .init(neededMB: source.neededMB, destinationFreeMB: nil),
                             disks: disks, interfaces: interfaces, nameConflict: false, migratableXML: source.migratableXML,
                             domainName: source.name, domainUUID: source.uuid, hasProvenSharedDisks: false)
    }

    // MARK: CPU

    /// The guest's CPU against what the destination's hypervisor can give
    /// (`virConnectCompareHypervisorCPU`). A `host-passthrough` guest needs the source's own
    /// host CPU there, so that is what is compared.
    static func cpuCheck(_ source: Source, destination: Connection) -> MigrationPlan.CPU {
        let type = source.domain.attribute("type")
        let os = source.domain.at("os", "type")
        let emulator = source.domain.at("devices", "emulator")?.text
        let cpu = source.domain.child("cpu")
        let mode = cpu?.attribute("mode") ?? (cpu?.child("model") != nil ? "custom" : nil)
        let compared: String
        switch mode {
        case nil:
            return .init(compatible: true, detail: "the guest has the hypervisor's default CPU model")
        case "host-passthrough", "maximum":
            guard let hostCPU = source.hypervisorCPU else {
                return .init(compatible: false, detail: "the source's hypervisor CPU is unknown, so a \(mode!) guest cannot be checked")
            }
            compared = hostCPU
        default:
            compared = cpu!.xmlString
        }
        do {
            let result = try destination.compareHypervisorCPU(xml: compared, emulator: emulator, arch: os?.attribute("arch"),
                                                              machine: os?.attribute("machine"), virtType: type)
            switch result {
            case .incompatible:
                return .init(compatible: false, detail: "the destination's hypervisor cannot give the guest's \(mode!) CPU")
            case .identical, .superset:
                return .init(compatible: true, detail: "the destination's hypervisor CPU is \(result) to the guest's")
            }
        } catch {
            return .init(compatible: false, detail: (error as? LibvirtError)?.message ?? "\(error)")
        }
    }

    // MARK: Disks

    struct FileDisk {
        var target: String
        var path: String
        var type: String
        var readOnly: Bool
        var cache: String?
    }

    /// Every disk with a source: file and block disks by path, network disks by protocol/name.
    static func fileDisks(_ domain: XMLTree.Element) -> [FileDisk] {
        (domain.child("devices")?.children("disk") ?? []).compactMap { disk in
            guard let target = disk.child("target")?.attribute("dev"), let source = disk.child("source") else { return nil }
            let type = disk.attribute("type") ?? "file"
            let path: String?
            switch type {
            case "network": path = source.attribute("protocol").map { "\($0):\(source.attribute("name") ?? "")" }
            case "volume": path = source.attribute("pool").map { "\($0)/\(source.attribute("volume") ?? "")" }
            default: path = source.attribute("file") ?? source.attribute("dev")
            }
            guard let path else { return nil }
            return FileDisk(target: target, path: path, type: type, readOnly: disk.child("readonly") != nil,
                            cache: disk.child("driver")?.attribute("cache"))
        }
    }

    static func diskChecks(_ domain: XMLTree.Element, sourceConnection: Connection, destination: Connection,
                           copyStorage: MigrationRequest.CopyStorage) -> [MigrationPlan.Disk] {
        fileDisks(domain).map { disk in
            func result(_ shared: Bool, _ action: MigrationPlan.Disk.Action, _ detail: String) -> MigrationPlan.Disk {
                MigrationPlan.Disk(target: disk.target, source: disk.path, shared: shared, action: action, detail: detail)
            }
            if disk.type == "network" {
                return result(true, .none, "network storage: both hosts reach it over the network")
            }
            let path = disk.type == "volume" ? ((try? sourceVolumePath(disk, sourceConnection)) ?? disk.path) : disk.path
            let identity = VolumeIdentity.compare(path: path, source: sourceConnection, destination: destination)
            switch identity {
            case .same:
                let cache = disk.cache ?? "default"
                if disk.readOnly || cache == "none" || cache == "directsync" {
                    return result(true, .none, "the destination sees the same file at \(path)")
                }
                return result(true, .refuse, "the destination sees the same file, but with cache=\(cache) its writes "
                              + "could be lost in the source's page cache: use cache=none for a shared disk")
            case .different(let reason), .absent(let reason), .unknown(let reason):
                if disk.readOnly, case .different = identity {
                    return result(false, .none, "read-only; the destination has its own copy at \(path)")
                }
                guard copyStorage == .all else {
                    return result(false, .refuse, "\(reason); copy_storage=all would copy it")
                }
                guard !disk.readOnly else {
                    return result(false, .refuse, "\(reason); a read-only disk is not copied: put the image on the destination")
                }
                return copyTarget(path: path, source: sourceConnection, destination: destination).map {
                    result(false, .copy, "\(reason); \($0)")
                } ?? result(false, .refuse, "\(reason), and the destination has no volume or active storage pool for \(path)")
            }
        }
    }

    private static func sourceVolumePath(_ disk: FileDisk, _ connection: Connection) throws -> String? {
        let parts = disk.path.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let pool = try connection.lookupStoragePool(name: String(parts[0])) else { return nil }
        return try pool.lookupVolume(name: String(parts[1]))?.path()
    }

    /// Where the copy would go: a volume at the path that is big enough, or an active pool
    /// on the destination whose directory holds the path (libvirt makes the volume there).
    static func copyTarget(path: String, source: Connection, destination: Connection) -> String? {
        let capacity = (try? PoolDirectory.volume(at: path, on: source)?.info().capacity) ?? nil
        if let volume = try? PoolDirectory.volume(at: path, on: destination), let info = try? volume.info() {
            if let capacity, info.capacity < capacity { return nil }
            return "copied into the destination's volume at \(path)"
        }
        guard let pool = (try? PoolDirectory.pool(holding: path, on: destination)) ?? nil else { return nil }
        return "the destination makes it in storage pool \((try? pool.name()) ?? "?")"
    }

    // MARK: Interfaces

    struct GuestInterface {
        var mac: String
        var type: String
        var source: String?
    }

    static func guestInterfaces(_ domain: XMLTree.Element) -> [GuestInterface] {
        (domain.child("devices")?.children("interface") ?? []).map { interface in
            let type = interface.attribute("type") ?? "?"
            let source = interface.child("source")
            let name: String? = switch type {
            case "network": source?.attribute("network")
            case "bridge": source?.attribute("bridge")
            case "direct": source?.attribute("dev")
            default: nil
            }
            return GuestInterface(mac: interface.child("mac")?.attribute("address") ?? "", type: type, source: name)
        }
    }

    /// Each interface's network, bridge or device looked up on the destination.
    static func interfaceChecks(_ domain: XMLTree.Element, destination: Connection) -> [MigrationPlan.Interface] {
        guestInterfaces(domain).map { interface in
            let present: Bool
            switch (interface.type, interface.source) {
            case ("network", let name?):
                present = ((try? destination.lookupNetwork(name: name)?.isActive()) ?? nil) ?? false
            case ("bridge", let name?), ("direct", let name?):
                // Present is enough: a bridge with no ports yet reads as inactive.
                present = ((try? destination.lookupInterface(name: name)) ?? nil) != nil
            default:
                // user, vhostuser and the like need nothing of the destination's.
                present = true
            }
            return MigrationPlan.Interface(mac: interface.mac, type: interface.type, source: interface.source,
                                           presentOnDestination: present)
        }
    }
}
