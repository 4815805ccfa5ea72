import FoundationEssentials
import GuestConfig
import Libvirt

/// A domain snapshot as the API shows it, with its children (the list is a tree).
public struct SnapshotDetails: Sendable, Hashable, Encodable {
    public struct Disk: Sendable, Hashable, Encodable {
        public var name: String
        /// `internal`, `external` or `no`.
        public var snapshot: String
        @NullWhenAbsent public var file: String?
    }

    public var name: String
    @NullWhenAbsent public var description: String?
    @NullWhenAbsent public var createdAt: Date?
    /// The domain's state when the snapshot was taken (`running`, `shutoff`, `disk-snapshot`…).
    public var state: String
    @NullWhenAbsent public var parent: String?
    public var current: Bool
    public var memory: Bool
    public var diskOnly: Bool
    public var disks: [Disk]
    public var children: [SnapshotDetails]

    enum CodingKeys: String, CodingKey {
        case name, description, state, parent, current, memory, disks, children
        case createdAt = "created_at"
        case diskOnly = "disk_only"
    }
}

/// Why a snapshot request cannot be done; the host's own errors stay ``HostError``.
public enum SnapshotError: Error, Sendable, CustomStringConvertible {
    case notFound(domain: String, snapshot: String)
    case exists(domain: String, snapshot: String)
    /// Disks that cannot take an internal snapshot, each `(target, why)`; nothing was done.
    case unsupportedDisks([(disk: String, reason: String)])

    public var description: String {
        switch self {
        case .notFound(let domain, let snapshot): "domain \(domain) has no snapshot \(snapshot)"
        case .exists(let domain, let snapshot): "domain \(domain) has a snapshot \(snapshot) already"
        case .unsupportedDisks(let disks):
            "disks that cannot take an internal snapshot: " + disks.map { "\($0.disk) (\($0.reason))" }.joined(separator: ", ")
        }
    }
}

/// Internal snapshots of a domain's qcow2 disks, with or without its RAM, given the Host and
/// the operations registry: a snapshot with memory is an operation whose RAM is written on a
/// dedicated connection; reverts and deletes run there too, so none holds the Host's thread.
public struct Snapshots: Sendable {
    public let operations: Operations
    var host: Host { operations.host }

    public init(operations: Operations) { self.operations = operations }

    /// A snapshot taken at once (the domain is shut off), or the operation taking it.
    public enum Created: Sendable {
        case done(SnapshotDetails)
        case started(Operation)
    }

    public func create(domain reference: String, _ request: SnapshotCreation) async throws -> Created {
        let guest = try await host.guest(for: reference)
        let uuid = guest.uuid, name = request.name
        let diskOnly = request.diskOnly
        let checked = try await guest.withDomain { domain
            -> Result<(running: Bool, domainName: String, disks: [(target: String, path: String)]), SnapshotError> in
            let domainName = try domain.name()
            if try domain.lookupSnapshot(name: name) != nil { return .failure(.exists(domain: domainName, snapshot: name)) }
            let xml = try domain.xml()
            let unsupported = diskOnly ? Self.disksRefusingExternalSnapshots(xml) : Self.disksRefusingInternalSnapshots(xml)
            if !unsupported.isEmpty { return .failure(.unsupportedDisks(unsupported)) }
            return .success((try domain.isActive(), domainName, Self.fileDisks(xml)))
        }.get()
        if request.diskOnly {
            return .done(try await createExternal(request, uuid: uuid, disks: checked.disks))
        }
        let memory = request.memory ?? checked.running
        if memory, !checked.running {
            throw HostError.invalidState(action: "take a snapshot with memory of", state: "shut off")
        }
        if !memory, checked.running {
            // QEMU's internal snapshot of a running guest is savevm: it always holds the RAM.
            throw HostError.invalidState(action: "take an internal snapshot without memory of", state: "running")
        }
        let xml = request.element.serialized()
        let host = host
        guard memory else {
            return .done(try await host.withDedicatedConnection(threadName: "virthost-snapshot") { connection in
                let domain = try connection.lookupDomain(uuid: uuid)
                _ = try domain.createSnapshot(xml: xml)
                return try Self.find(name, in: domain)
            })
        }
        @Sendable func job() async -> DomainJobInfo? {
            try? await host.withConnection { try $0.lookupDomain(uuid: uuid).jobInfo() }
        }
        return .started(operations.start(
            kind: "snapshot-create", target: .domain(name: checked.domainName, uuid: uuid),
            progress: Operation.Progress(phase: "memory"),
            sample: {
                guard let job = await job(), job.isActive else { return nil }
                var progress = Operations.progress(job)
                progress.phase = "memory"
                return progress
            },
            onCancel: { _ = try? await host.withConnection { try $0.lookupDomain(uuid: uuid).abortJob() } }
        ) { context in
            let made: Result<SnapshotDetails, any Error> = await {
                do {
                    return .success(try await host.withDedicatedConnection(threadName: "virthost-snapshot") { connection in
                        let domain = try connection.lookupDomain(uuid: uuid)
                        _ = try domain.createSnapshot(xml: xml)
                        return try Self.find(name, in: domain)
                    })
                } catch {
                    return .failure(error)
                }
            }()
            if context.isCancelRequested {
                // Stopped, or too late to stop: either way no snapshot of this request stays.
                _ = try? await host.withDedicatedConnection(threadName: "virthost-snapshot") { connection in
                    try connection.lookupDomain(uuid: uuid).lookupSnapshot(name: name)?.delete()
                }
                throw OperationError.cancelled
            }
            return .snapshot(try made.get())
        })
    }

    /// External disk-only snapshot (`DISK_ONLY | ATOMIC`, with `QUIESCE` when asked): each disk
    /// gets a qcow2 overlay `<image>.<snapshot>.qcow2` next to it, all or none. A quiesce no
    /// guest agent answers is a 409 `invalid-state`, and nothing is made.
    func createExternal(_ request: SnapshotCreation, uuid: String, disks: [(target: String, path: String)]) async throws
        -> SnapshotDetails {
        let overlays = disks.map { disk in
            (target: disk.target, path: Self.overlayPath(for: disk.path, snapshot: request.name))
        }
        let xml = request.externalElement(overlays: overlays).serialized()
        var flags: DomainSnapshotCreateFlags = [.diskOnly, .atomic]
        if request.quiesce { flags.insert(.quiesce) }
        let made: Result<SnapshotDetails, HostError>
        do {
            made = .success(try await host.withDedicatedConnection(threadName: "virthost-snapshot") { [flags] connection in
                let domain = try connection.lookupDomain(uuid: uuid)
                _ = try domain.createSnapshot(xml: xml, flags)
                return try Self.find(request.name, in: domain)
            })
        } catch {
            made = .failure(error)
        }
        if case .failure(.libvirt(let error)) = made, request.quiesce, error.isAgentUnavailable {
            throw HostError.invalidState(action: "quiesce (\(error.message))", state: "without a guest agent that answers")
        }
        return try made.get()
    }

    /// `disk.qcow2` → `disk.<snapshot>.qcow2`, next to it.
    static func overlayPath(for path: String, snapshot: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let file = path[slash...]
        let stem = file.lastIndex(of: ".").map { file[..<$0] } ?? file
        return String(path[..<slash]) + stem + "." + snapshot + ".qcow2"
    }

    /// Each file or block disk (`device='disk'`): its target and path.
    static func fileDisks(_ xml: String) -> [(target: String, path: String)] {
        guard let root = try? XMLTree(xml, root: "domain").root else { return [] }
        return (root.child("devices")?.children("disk") ?? []).compactMap { disk in
            guard (disk.attribute("device") ?? "disk") == "disk", let target = disk.child("target")?.attribute("dev"),
                  let source = disk.child("source"), let path = source.attribute("file") ?? source.attribute("dev")
            else { return nil }
            return (target, path)
        }
    }

    /// Disks an external snapshot cannot cover: those that are no file or block device.
    static func disksRefusingExternalSnapshots(_ xml: String) -> [(disk: String, reason: String)] {
        guard let root = try? XMLTree(xml, root: "domain").root else { return [] }
        return (root.child("devices")?.children("disk") ?? []).compactMap { disk in
            guard (disk.attribute("device") ?? "disk") == "disk" else { return nil }
            let target = disk.child("target")?.attribute("dev") ?? "?"
            let type = disk.attribute("type") ?? "file"
            return type == "file" || type == "block" ? nil : (target, "a \(type) disk: an overlay needs a file or block device")
        }
    }

    /// The domain's snapshots as a tree: the roots, each with its children.
    public func list(domain reference: String) async throws -> [SnapshotDetails] {
        let guest = try await host.guest(for: reference)
        return try await guest.withDomain { try Self.tree($0) }
    }

    public func snapshot(domain reference: String, name: String) async throws -> SnapshotDetails {
        let guest = try await host.guest(for: reference)
        return try await guest.withDomain { domain -> Result<SnapshotDetails, SnapshotError> in
            guard let found = try Self.findInTree(name, try Self.tree(domain)) else {
                return .failure(.notFound(domain: try domain.name(), snapshot: name))
            }
            return .success(found)
        }.get()
    }

    /// The snapshot's own XML (`<domainsnapshot>`).
    public func xml(domain reference: String, name: String) async throws -> String {
        let guest = try await host.guest(for: reference)
        return try await guest.withDomain { domain -> Result<String, SnapshotError> in
            guard let snapshot = try domain.lookupSnapshot(name: name) else {
                return .failure(.notFound(domain: try domain.name(), snapshot: name))
            }
            return .success(try snapshot.xml())
        }.get()
    }

    /// A revert done at once, or the operation doing it.
    public enum Reverted: Sendable {
        case done(SnapshotDetails)
        case started(Operation)
    }

    /// Reverts the domain to the snapshot: its disks and, for a snapshot with memory, its RAM
    /// and state. `start` runs it afterwards (`paused`: paused), whatever the snapshot's state.
    /// A snapshot with memory loads the guest's RAM, which takes as long as its size: that
    /// revert is an operation. libvirt cannot stop a revert once it has begun, so a cancel
    /// asked before it begins ends the operation `cancelled` with nothing changed, and one asked
    /// later is too late: the operation ends `succeeded`.
    public func revert(domain reference: String, name: String, start: Bool, paused: Bool) async throws -> Reverted {
        let guest = try await host.guest(for: reference)
        let uuid = guest.uuid
        let found = try await guest.withDomain { domain -> Result<(domainName: String, snapshot: SnapshotDetails), SnapshotError> in
            let domainName = try domain.name()
            guard try domain.lookupSnapshot(name: name) != nil else {
                return .failure(.notFound(domain: domainName, snapshot: name))
            }
            return .success((domainName, try Self.find(name, in: domain)))
        }.get()
        let flags: DomainSnapshotRevertFlags = paused ? [.paused] : start ? [.running] : []
        let host = host
        @Sendable func revert() async throws -> SnapshotDetails {
            try await host.withDedicatedConnection(threadName: "virthost-snapshot") { connection in
                let domain = try connection.lookupDomain(uuid: uuid)
                guard let snapshot = try domain.lookupSnapshot(name: name) else {
                    return Result<SnapshotDetails, SnapshotError>.failure(.notFound(domain: try domain.name(), snapshot: name))
                }
                try snapshot.revert(flags)
                return .success(try Self.find(name, in: domain))
            }.get()
        }
        guard found.snapshot.memory else { return .done(try await revert()) }
        return .started(operations.start(
            kind: "snapshot-revert", target: .domain(name: found.domainName, uuid: uuid),
            progress: Operation.Progress(phase: "memory")
        ) { context in
            guard !context.isCancelRequested else { throw OperationError.cancelled }
            return .snapshot(try await revert())
        })
    }

    /// Deletes the snapshot (its children become its parent's), or with `children` its subtree.
    public func delete(domain reference: String, name: String, children: Bool) async throws {
        let guest = try await host.guest(for: reference)
        let uuid = guest.uuid
        try await host.withDedicatedConnection(threadName: "virthost-snapshot") { connection in
            let domain = try connection.lookupDomain(uuid: uuid)
            guard let snapshot = try domain.lookupSnapshot(name: name) else {
                return Result<Void, SnapshotError>.failure(.notFound(domain: try domain.name(), snapshot: name))
            }
            try snapshot.delete(children ? .children : [])
            return .success(())
        }.get()
    }

    // MARK: Reading what libvirt has

    /// Disks (`device='disk'`) an internal snapshot cannot cover: not a qcow2 file or block
    /// device (a raw file, a network disk), each with why.
    static func disksRefusingInternalSnapshots(_ xml: String) -> [(disk: String, reason: String)] {
        guard let root = try? XMLTree(xml, root: "domain").root else { return [] }
        return (root.child("devices")?.children("disk") ?? []).compactMap { disk in
            guard (disk.attribute("device") ?? "disk") == "disk" else { return nil }
            let target = disk.child("target")?.attribute("dev") ?? "?"
            let type = disk.attribute("type") ?? "file"
            guard type == "file" || type == "block" else {
                return (target, "a \(type) disk: internal snapshots need a qcow2 file")
            }
            let format = disk.child("driver")?.attribute("type") ?? "raw"
            guard format == "qcow2" else { return (target, "a \(format) image: internal snapshots need qcow2") }
            return nil
        }
    }

    static func find(_ name: String, in domain: Domain) throws -> SnapshotDetails {
        guard let found = try findInTree(name, try tree(domain)) else {
            throw LibvirtError(code: -1, domain: -1, message: "snapshot \(name) is gone again")
        }
        return found
    }

    static func findInTree(_ name: String, _ nodes: [SnapshotDetails]) throws -> SnapshotDetails? {
        for node in nodes {
            if node.name == name { return node }
            if let found = try findInTree(name, node.children) { return found }
        }
        return nil
    }

    static func tree(_ domain: Domain) throws -> [SnapshotDetails] {
        let flat = try domain.listAllSnapshots().map { snapshot in
            try details(xml: try snapshot.xml(), current: try snapshot.isCurrent())
        }
        let byParent = Dictionary(grouping: flat, by: { $0.parent ?? "" })
        func build(_ node: SnapshotDetails) -> SnapshotDetails {
            var node = node
            node.children = (byParent[node.name] ?? []).sorted(by: Self.older).map(build)
            return node
        }
        let names = Set(flat.map(\.name))
        return flat.filter { $0.parent.map { !names.contains($0) } ?? true }.sorted(by: Self.older).map(build)
    }

    static func older(_ left: SnapshotDetails, _ right: SnapshotDetails) -> Bool {
        (left.createdAt ?? .distantPast, left.name) < (right.createdAt ?? .distantPast, right.name)
    }

    /// Disk-only: libvirt's `disk-snapshot` state (taken running), or, taken shut off, external
    /// overlays and no internal snapshot.
    static func isDiskOnly(state: String, disks: [SnapshotDetails.Disk]) -> Bool {
        state == "disk-snapshot"
            || (disks.contains { $0.snapshot == "external" } && !disks.contains { $0.snapshot == "internal" })
    }

    static func details(xml: String, current: Bool) throws -> SnapshotDetails {
        let root = try XMLTree(xml, root: "domainsnapshot").root
        let state = root.childText("state") ?? "unknown"
        let disks = (root.child("disks")?.children("disk") ?? []).map { disk in
            SnapshotDetails.Disk(name: disk.attribute("name") ?? "", snapshot: disk.attribute("snapshot") ?? "no",
                                 file: disk.child("source")?.attribute("file"))
        }
        let memory = root.child("memory")?.attribute("snapshot").map { $0 != "no" } ?? (state != "shutoff" && state != "disk-snapshot")
        return SnapshotDetails(
            name: root.childText("name") ?? "", description: root.childText("description"),
            createdAt: root.childText("creationTime").flatMap(Double.init).map { Date(timeIntervalSince1970: $0) },
            state: state, parent: root.at("parent", "name")?.text, current: current, memory: memory,
            diskOnly: Self.isDiskOnly(state: state, disks: disks), disks: disks, children: [])
    }
}
