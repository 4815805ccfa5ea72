import CLibvirt
import FoundationEssentials

/// A domain event as libvirt delivers it, copied out of the callback: the domain's name and
/// UUID (read from the borrowed `virDomainPtr` with its accessors, which do no I/O), what
/// happened, and when it arrived.
public struct DomainEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `virDomainEventType` and its detail code.
        case lifecycle(type: Int32, detail: Int32)
        case reboot
        /// The alias of the device the guest has released (`virtio-disk1`, `net0`...).
        case deviceRemoved(alias: String)
        /// The guest refused to release the device with this alias.
        case deviceRemovalFailed(alias: String)
        /// `virDomainMetadataType`, and the namespace of an `element` change.
        case metadataChange(type: Int32, namespace: String?)
        /// `virConnectDomainEventAgentLifecycleState` and its reason.
        case agentLifecycle(state: Int32, reason: Int32)
        /// What the balloon now gives the guest, in KiB.
        case balloonChange(actualKiB: UInt64)
        /// A block job on the disk `disk` (its target): `virDomainBlockJobType` and
        /// `virConnectDomainEventBlockJobStatus`.
        case blockJob(disk: String, type: Int32, status: Int32)
        /// An I/O error on the disk with source `path` and alias `alias`:
        /// `virDomainEventIOErrorAction`, and the hypervisor's reason (`enospc`...).
        case ioError(path: String, alias: String, action: Int32, reason: String)
        /// A job (a migration, say) finished, with its final statistics.
        case jobCompleted([TypedParameter])
        /// A migration began another pass over the guest's memory (the first is 1).
        case migrationIteration(Int32)
    }

    public let domainName: String
    public let domainUUID: String
    public let kind: Kind
    public let time: Date

    public init(domainName: String, domainUUID: String, kind: Kind, time: Date = Date()) {
        self.domainName = domainName
        self.domainUUID = domainUUID
        self.kind = kind
        self.time = time
    }

    /// Reads the borrowed domain's identity; libvirt keeps ownership.
    init(borrowing domain: virDomainPtr, kind: Kind) {
        var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        let uuid = virDomainGetUUIDString(domain, &buffer) == 0
            ? String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        self.init(domainName: virDomainGetName(domain).map { String(cString: $0) } ?? "", domainUUID: uuid, kind: kind)
    }
}

extension Connection {
    /// Hands events to one handler on libvirt's event loop thread; the handler must only
    /// hand them over (no libvirt calls, no blocking).
    final class EventHandler {
        let handle: @Sendable (DomainEvent) -> Void
        init(_ handle: @escaping @Sendable (DomainEvent) -> Void) { self.handle = handle }
    }

    private static let lifecycleCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, Int32, Int32, UnsafeMutableRawPointer?
    ) -> Int32 = { _, domain, type, detail, opaque in
        guard let domain, let opaque else { return 0 }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .lifecycle(type: type, detail: detail)))
        return 0
    }

    private static let rebootCallback: @convention(c) (virConnectPtr?, virDomainPtr?, UnsafeMutableRawPointer?) -> Void = {
        _, domain, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .reboot))
    }

    private static let deviceRemovedCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?
    ) -> Void = { _, domain, alias, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .deviceRemoved(alias: alias.map { String(cString: $0) } ?? "")))
    }

    private static let deviceRemovalFailedCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?
    ) -> Void = { _, domain, alias, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .deviceRemovalFailed(alias: alias.map { String(cString: $0) } ?? "")))
    }

    private static let metadataChangeCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?
    ) -> Void = { _, domain, type, namespace, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .metadataChange(type: type, namespace: namespace.map { String(cString: $0) })))
    }

    private static let agentLifecycleCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, Int32, Int32, UnsafeMutableRawPointer?
    ) -> Void = { _, domain, state, reason, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .agentLifecycle(state: state, reason: reason)))
    }

    private static let balloonChangeCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, UInt64, UnsafeMutableRawPointer?
    ) -> Void = { _, domain, actual, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .balloonChange(actualKiB: actual)))
    }

    private static let blockJobCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, UnsafePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?
    ) -> Void = { _, domain, disk, type, status, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .blockJob(disk: disk.map { String(cString: $0) } ?? "",
                                                                      type: type, status: status)))
    }

    private static let ioErrorCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?,
        UnsafeMutableRawPointer?
    ) -> Void = { _, domain, path, alias, action, reason, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .ioError(
            path: path.map { String(cString: $0) } ?? "", alias: alias.map { String(cString: $0) } ?? "",
            action: action, reason: reason.map { String(cString: $0) } ?? "")))
    }

    private static let jobCompletedCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, UnsafeMutablePointer<virTypedParameter>?, Int32, UnsafeMutableRawPointer?
    ) -> Void = { _, domain, parameters, count, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        // Copied here: libvirt frees the parameters when the callback returns.
        handler.handle(DomainEvent(borrowing: domain, kind: .jobCompleted(
            TypedParameter.array(UnsafePointer(parameters), count: Int(count)))))
    }

    private static let migrationIterationCallback: @convention(c) (
        virConnectPtr?, virDomainPtr?, Int32, UnsafeMutableRawPointer?
    ) -> Void = { _, domain, iteration, opaque in
        guard let domain, let opaque else { return }
        let handler = Unmanaged<EventHandler>.fromOpaque(opaque).takeUnretainedValue()
        handler.handle(DomainEvent(borrowing: domain, kind: .migrationIteration(iteration)))
    }

    /// Registers for the domain events the service reports (lifecycle, reboot, device removal
    /// and its failure, metadata, agent, balloon, block jobs, I/O errors, completed jobs, migration passes) of
    /// every domain (`virConnectDomainEventRegisterAny`). The registrations end with the connection.
    /// Needs the libvirt event loop (``EventLoop``).
    public func onDomainEvents(_ deliver: @escaping @Sendable (DomainEvent) -> Void) throws {
        // The C callbacks differ in type; libvirt takes each as a generic callback and calls
        // it with the signature of its event id (the VIR_DOMAIN_EVENT_CALLBACK cast).
        let registrations: [(Int32, virConnectDomainEventGenericCallback)] = [
            (Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue), unsafeBitCast(Self.lifecycleCallback,
                                                                          to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_REBOOT.rawValue), Self.rebootCallback),
            (Int32(VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED.rawValue), unsafeBitCast(Self.deviceRemovedCallback,
                                                                               to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED.rawValue),
             unsafeBitCast(Self.deviceRemovalFailedCallback, to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_METADATA_CHANGE.rawValue),
             unsafeBitCast(Self.metadataChangeCallback, to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE.rawValue),
             unsafeBitCast(Self.agentLifecycleCallback, to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE.rawValue),
             unsafeBitCast(Self.balloonChangeCallback, to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2.rawValue),
             unsafeBitCast(Self.blockJobCallback, to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON.rawValue),
             unsafeBitCast(Self.ioErrorCallback, to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_JOB_COMPLETED.rawValue),
             unsafeBitCast(Self.jobCompletedCallback, to: virConnectDomainEventGenericCallback.self)),
            (Int32(VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION.rawValue),
             unsafeBitCast(Self.migrationIterationCallback, to: virConnectDomainEventGenericCallback.self)),
        ]
        for (eventID, callback) in registrations {
            let opaque = Unmanaged.passRetained(EventHandler(deliver)).toOpaque()
            let id: Int32
            do {
                id = try LibvirtError.status("virConnectDomainEventRegisterAny") {
                    virConnectDomainEventRegisterAny(handle, nil, eventID, callback, opaque) { opaque in
                        if let opaque { Unmanaged<AnyObject>.fromOpaque(opaque).release() }
                    }
                }
            } catch {
                Unmanaged<EventHandler>.fromOpaque(opaque).release()
                throw error
            }
            eventCallbackIDs.append(id)
        }
    }
}
