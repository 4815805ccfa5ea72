import GuestConfig
import Libvirt

/// Volume clone and wipe as operations: what can be checked is checked before the operation
/// starts (so a bad request is an error, not a failed operation), then the copy or the wipe
/// runs on a dedicated connection while the Host's thread stays free.
public struct VolumeJobs: Sendable {
    public let operations: Operations
    var host: Host { operations.host }

    public init(operations: Operations) { self.operations = operations }

    /// Copies `volume` of `pool` into a new volume `name` of `targetPool`
    /// (`virStorageVolCreateXMLFrom`), same format and capacity. Progress is the new volume's
    /// allocation against the source's. libvirt cannot interrupt a copy: a cancel takes effect
    /// when it returns, and the new volume is deleted then.
    public func clone(pool: String, volume: String, name: String, targetPool: String) async throws -> Operation {
        let source = try await host.storageVolume(pool: pool, volume: volume).get()
        try await host.checkVolumeNameFree(pool: targetPool, name: name).get()
        let host = host
        let total = source.allocationBytes
        let xml = Element("volume") {
            Element("name", text: name)
            Element("capacity", [("unit", "bytes")], text: String(source.capacityBytes))
            Element("target") { source.format.map { Element("format", [("type", $0)]) } }
        }.serialized()
        return operations.start(
            kind: "volume-clone", target: .volume(pool: targetPool, volume: name),
            progress: Operation.Progress(processedBytes: 0, totalBytes: total, phase: "copy"),
            sample: {
                // The copy being made is only visible to libvirt's own lookups once done; the
                // file's allocation is what a sample can read.
                guard let made = try? await host.storageVolume(pool: targetPool, volume: name).get() else { return nil }
                return Operation.Progress(processedBytes: min(made.allocationBytes, total), totalBytes: total,
                                          remainingBytes: total - min(made.allocationBytes, total), phase: "copy")
            }
        ) { context in
            try await host.withDedicatedConnection(threadName: "virthost-clone") { connection in
                guard let fromPool = try connection.lookupStoragePool(name: pool),
                      let from = try fromPool.lookupVolume(name: volume) else {
                    throw StorageError.volumeNotFound(pool: pool, volume: volume)
                }
                guard let into = try connection.lookupStoragePool(name: targetPool) else {
                    throw StorageError.poolNotFound(targetPool)
                }
                // On failure libvirt removes the partial copy itself.
                _ = try into.createVolume(xml: xml, from: from)
            }
            if context.isCancelRequested {
                try await host.deleteStorageVolume(pool: targetPool, volume: name).get()
                throw OperationError.cancelled
            }
            let made = try await host.storageVolume(pool: targetPool, volume: name).get()
            context.report(Operation.Progress(processedBytes: total, totalBytes: total, remainingBytes: 0, phase: "copy"))
            return .volume(made)
        }
    }

    /// Overwrites the volume with zeros (`virStorageVolWipe`), then deletes it; refused before
    /// anything is done while a domain has a disk on it or another volume is an overlay on it.
    /// A wipe cannot be interrupted either: a cancel keeps the (wiped) volume instead of
    /// deleting it.
    public func wipeAndDelete(pool: String, volume: String) async throws -> Operation {
        try await host.checkVolumeUnused(pool: pool, volume: volume).get()
        let host = host
        return operations.start(kind: "volume-wipe", target: .volume(pool: pool, volume: volume),
                                progress: Operation.Progress(phase: "wipe")) { context in
            try await host.withDedicatedConnection(threadName: "virthost-wipe") { connection in
                switch try Host.lookup(connection, pool: pool, volume: volume) {
                case .refused(let error): throw error
                case .done(let found): try found.wipe()
                }
            }
            if context.isCancelRequested { throw OperationError.cancelled }
            context.report(Operation.Progress(phase: "delete"))
            try await host.deleteStorageVolume(pool: pool, volume: volume).get()
            return nil
        }
    }
}

extension Host {
    /// Refuses when the pool is missing or stopped, or has a volume of this name.
    func checkVolumeNameFree(pool name: String, name volume: String) throws(HostError) -> StorageOutcome<Void> {
        try withConnection { connection in
            guard let pool = try connection.lookupStoragePool(name: name) else { return .refused(.poolNotFound(name)) }
            guard try pool.isActive() else { return .refused(.poolInactive(name)) }
            if try pool.lookupVolume(name: volume) != nil { return .refused(.volumeExists(pool: name, volume: volume)) }
            return .done(())
        }
    }

    /// Refuses when the volume is missing, or a domain or an overlay uses it.
    func checkVolumeUnused(pool name: String, volume: String) throws(HostError) -> StorageOutcome<Void> {
        let details: StorageVolumeDetails
        switch try storageVolume(pool: name, volume: volume) {
        case .refused(let error): return .refused(error)
        case .done(let found): details = found
        }
        let overlays = try withConnection { try Self.overlays(on: details.path, $0) }
        guard details.usedBy.isEmpty, overlays.isEmpty else {
            return .refused(.volumeInUse(pool: name, volume: volume, domains: details.usedBy, overlays: overlays))
        }
        return .done(())
    }
}
