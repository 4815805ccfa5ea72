import Libvirt

/// Managed save (Nova's `save_memory_state`): the guest's RAM written to a file libvirt keeps,
/// and the guest stopped; its next start restores it. The save is an operation written on a
/// dedicated connection; its cancel is `virDomainAbortJob`, which leaves the guest running.
public struct ManagedSave: Sendable {
    public let operations: Operations
    var host: Host { operations.host }

    public init(operations: Operations) { self.operations = operations }

    /// Starts saving a running guest; 409 `invalid-state` when it does not run.
    public func save(domain reference: String) async throws -> Operation {
        let guest = try await host.guest(for: reference)
        let uuid = guest.uuid
        let (name, state) = try await guest.withDomain { (try $0.name(), try $0.state().state) }
        guard state == .running || state == .paused else {
            throw HostError.invalidState(action: "save", state: state.description)
        }
        let host = host
        return operations.start(
            kind: "managed-save", target: .domain(name: name, uuid: uuid), progress: Operation.Progress(phase: "memory"),
            sample: {
                guard let job = try? await host.withConnection({ try $0.lookupDomain(uuid: uuid).jobInfo() }),
                      job.isActive else { return nil }
                var progress = Operations.progress(job)
                progress.phase = "memory"
                return progress
            },
            onCancel: { _ = try? await host.withConnection { try $0.lookupDomain(uuid: uuid).abortJob() } }
        ) { context in
            do {
                try await host.withDedicatedConnection(threadName: "virthost-save") { connection in
                    try connection.lookupDomain(uuid: uuid).managedSave()
                }
            } catch {
                // An aborted save leaves the guest running and no image: that is the cancel.
                if context.isCancelRequested { throw OperationError.cancelled }
                throw error
            }
            return nil
        }
    }

    /// Removes the guest's managed save image; 409 `invalid-state` when it has none.
    public func remove(domain reference: String) async throws {
        let guest = try await host.guest(for: reference)
        let removed = try await guest.withDomain { domain -> Bool in
            guard try domain.hasManagedSave() else { return false }
            try domain.removeManagedSave()
            return true
        }
        if !removed { throw HostError.invalidState(action: "remove the managed save of", state: "without one") }
    }
}
