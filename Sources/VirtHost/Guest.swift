import Libvirt

/// One domain and what can be done to it (Nova's guest.py `Guest`): power, devices, vCPUs,
/// removal, and, as they come, snapshots, jobs, migration and the guest agent. The Host
/// keeps the connection, host facts, listing and ``Host/guest(for:)``.
///
/// A Guest is a value: the Host and the domain's UUID (read once by ``Host/guest(for:)``, so
/// a rename does not lose it). It holds no libvirt object. Each method is one turn of the
/// Host actor through ``Host/run(_:)``: its libvirt calls run on the Host's thread, serialised
/// with every other call on the connection, and no other call comes between them. That is
/// why the methods are `async`, and why the blocking libvirt calls never reach Swift's
/// cooperative pool.
public struct Guest: Sendable {
    public let host: Host
    /// The domain's UUID, lower case with dashes.
    public let uuid: String

    init(host: Host, uuid: String) {
        self.host = host
        self.uuid = uuid
    }

    /// Runs `body` on the Host's thread with this guest's domain.
    func withDomain<T: Sendable>(_ body: @escaping @Sendable (Domain) throws -> T) async throws(HostError) -> T {
        try await host.run { host throws(HostError) in try host.withDomain(uuid, body) }
    }

    /// The domain now, with what its XML says.
    public func details() async throws(HostError) -> DomainDetails {
        try await host.run { [uuid] host throws(HostError) in try host.domain(uuid) }
    }

    public func state() async throws(HostError) -> DomainState {
        try await withDomain { try $0.state().state }
    }

    public func isActive() async throws(HostError) -> Bool {
        try await withDomain { try $0.isActive() }
    }
}

extension Host {
    /// The guest that `reference` (a UUID or a name) names now; ``HostError/domainNotFound(_:)``
    /// when none does.
    public func guest(for reference: String) throws(HostError) -> Guest {
        Guest(host: self, uuid: try withDomain(reference) { try $0.uuid() })
    }

    /// Runs `body` in one turn of the Host, on its thread: how ``Guest`` and the provisioning
    /// sequences make several libvirt calls that nothing else on the connection comes between.
    public func run<T: Sendable>(_ body: @Sendable (isolated Host) throws(HostError) -> T) throws(HostError) -> T {
        try body(self)
    }
}
