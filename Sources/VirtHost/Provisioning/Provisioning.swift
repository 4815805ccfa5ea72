import GuestConfig
import Libvirt
import Logging

/// Multi-step work on guests: creation, device attach and detach, deletion. Each is a
/// sequence of steps on the Host (and the ``Firewall`` and ``VIF`` parts) in which every step
/// that makes something registers its undo (``Undo``), run under the domain's UUID and name
/// (``DomainLocks``), so two requests on one domain never interleave and the loser of a race
/// undoes only what it made. The HTTP routes only translate requests and answers.
///
/// Volumes, first-boot disks, snapshots with freeze/thaw and migrations are meant to be
/// sequences here too.
public struct Provisioning: Sendable {
    public let host: Host

    public init(host: Host) { self.host = host }

    var logger: Logger { host.logger }
    var locks: DomainLocks { host.domainLocks }

    /// Where guests' disks may live: the allowed roots, or the instances path when none are
    /// given. The disk policy guest specs and devices are validated with.
    public var validationPolicy: ValidationPolicy {
        let configuration = host.configuration
        let roots = configuration.allowedDiskRoots
        return ValidationPolicy(allowedDiskRoots: roots.isEmpty ? [configuration.instancesPath] : roots)
    }

    /// Validates a spec against what the host offers for it and the disk policy; the roles
    /// the service makes become `volume` disks in the instances pool (``GuestVolumes``).
    public func definition(of spec: GuestSpec, readErrors: [FieldError], pointer: String) async throws
        -> GuestDefinition {
        let profile = try await host.hostProfile(for: spec)
        let (resolved, storageErrors) = try await GuestVolumes(host: host).resolve(spec, pointer: pointer)
        var definition = try GuestDefinition(resolved, host: profile, policy: validationPolicy, pointer: pointer,
                                             readErrors: readErrors + storageErrors)
        definition.consoleLogDirectory = host.configuration.consoleLogDirectory
        return definition
    }
}
