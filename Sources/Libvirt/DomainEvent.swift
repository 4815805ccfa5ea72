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

    /// Registers for lifecycle, reboot and device-removed events of every domain
    /// (`virConnectDomainEventRegisterAny`). The registrations end with the connection.
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
