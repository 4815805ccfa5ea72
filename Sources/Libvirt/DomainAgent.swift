import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// The calls a domain answers through the QEMU guest agent. Each blocks until the agent
/// answers or the domain's agent response timeout (``setAgentResponseTimeout(seconds:)``) passes.
extension Domain {
    /// Sends the guest agent one command of its own protocol, as JSON, and returns its JSON
    /// answer (`virDomainQemuAgentCommand`, from libvirt-qemu), waiting at most
    /// `timeoutSeconds` for it. For commands libvirt has no call for, such as `guest-info`.
    public func qemuAgentCommand(_ command: String, timeoutSeconds: Int32) throws -> String {
        let answer = try LibvirtError.call("virDomainQemuAgentCommand") {
            virDomainQemuAgentCommand(handle, command, timeoutSeconds, 0)
        }
        defer { free(answer) }
        return String(cString: answer)
    }

    /// Where ``interfaceAddresses(source:)`` reads addresses from.
    public enum AddressSource: String, Sendable, CaseIterable {
        /// The guest agent.
        case agent
        /// libvirt's DHCP leases (networks libvirt runs dnsmasq for).
        case lease
        /// The host's ARP table.
        case arp

        var flag: UInt32 {
            switch self {
            case .lease: VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE.rawValue
            case .agent: VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT.rawValue
            case .arp: VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP.rawValue
            }
        }
    }

    /// One interface as the guest (or the lease file, or ARP) sees it.
    public struct InterfaceAddresses: Sendable, Hashable {
        public struct Address: Sendable, Hashable {
            /// `ipv4` or `ipv6`.
            public let family: String
            public let address: String
            public let prefix: UInt32
        }

        public let name: String
        public let mac: String?
        public let addresses: [Address]
    }

    /// One mounted file system the agent reports (`virDomainGetFSInfo`).
    public struct FileSystemInfo: Sendable, Hashable {
        public let mountpoint: String
        public let name: String
        public let type: String
        /// The domain's disk targets the file system lies on.
        public let disks: [String]
    }

    /// How long libvirt waits for the agent's answer, in seconds; libvirt's special values
    /// are -2 (block), -1 (its default, 5 s) and 0 (do not wait).
    public func setAgentResponseTimeout(seconds: Int32) throws {
        try LibvirtError.status("virDomainAgentSetResponseTimeout") { virDomainAgentSetResponseTimeout(handle, seconds, 0) }
    }

    public func interfaceAddresses(source: AddressSource) throws -> [InterfaceAddresses] {
        var list: UnsafeMutablePointer<virDomainInterfacePtr?>?
        let count = try LibvirtError.status("virDomainInterfaceAddresses") {
            virDomainInterfaceAddresses(handle, &list, source.flag, 0)
        }
        guard let list else { return [] }
        defer {
            for index in 0..<Int(count) { virDomainInterfaceFree(list[index]) }
            free(list)
        }
        return (0..<Int(count)).compactMap { index in
            guard let interface = list[index]?.pointee else { return nil }
            let addresses = (0..<Int(interface.naddrs)).map { at in
                let address = interface.addrs[at]
                return InterfaceAddresses.Address(
                    family: Int32(address.type) == Int32(VIR_IP_ADDR_TYPE_IPV6.rawValue) ? "ipv6" : "ipv4",
                    address: address.addr.map { String(cString: $0) } ?? "", prefix: address.prefix)
            }
            return InterfaceAddresses(name: interface.name.map { String(cString: $0) } ?? "",
                                      mac: interface.hwaddr.map { String(cString: $0) }, addresses: addresses)
        }
    }

    /// What the agent reports about the guest (`virDomainGetGuestInfo`, every type), as
    /// libvirt's flat typed parameters (`os.id`, `hostname`, `user.0.name`, …).
    public func guestInfo() throws -> [TypedParameter] {
        var parameters: virTypedParameterPtr?
        var count: Int32 = 0
        try LibvirtError.status("virDomainGetGuestInfo") { virDomainGetGuestInfo(handle, 0, &parameters, &count, 0) }
        defer { virTypedParamsFree(parameters, count) }
        return TypedParameter.array(parameters, count: Int(count))
    }

    /// Sets a guest user's password (`virDomainSetUserPassword`); `encrypted` when it is a
    /// crypt(3) hash already.
    public func setUserPassword(user: String, password: String, encrypted: Bool) throws {
        let flags = encrypted ? VIR_DOMAIN_PASSWORD_ENCRYPTED.rawValue : 0
        try LibvirtError.status("virDomainSetUserPassword") { virDomainSetUserPassword(handle, user, password, flags) }
    }

    /// Freezes the guest's file systems (all when `mountpoints` is empty); the number frozen.
    @discardableResult
    public func freezeFileSystems(_ mountpoints: [String] = []) throws -> Int {
        try Self.withCStrings(mountpoints) { pointers, count in
            Int(try LibvirtError.status("virDomainFSFreeze") { virDomainFSFreeze(handle, pointers, count, 0) })
        }
    }

    /// Thaws the guest's file systems (all when `mountpoints` is empty); the number thawed.
    @discardableResult
    public func thawFileSystems(_ mountpoints: [String] = []) throws -> Int {
        try Self.withCStrings(mountpoints) { pointers, count in
            Int(try LibvirtError.status("virDomainFSThaw") { virDomainFSThaw(handle, pointers, count, 0) })
        }
    }

    public func fileSystems() throws -> [FileSystemInfo] {
        var list: UnsafeMutablePointer<virDomainFSInfoPtr?>?
        let count = try LibvirtError.status("virDomainGetFSInfo") { virDomainGetFSInfo(handle, &list, 0) }
        guard let list else { return [] }
        defer {
            for index in 0..<Int(count) { virDomainFSInfoFree(list[index]) }
            free(list)
        }
        return (0..<Int(count)).compactMap { index in
            guard let info = list[index]?.pointee else { return nil }
            let disks = (0..<Int(info.ndevAlias)).compactMap { info.devAlias[$0].map { String(cString: $0) } }
            return FileSystemInfo(mountpoint: info.mountpoint.map { String(cString: $0) } ?? "",
                                  name: info.name.map { String(cString: $0) } ?? "",
                                  type: info.fstype.map { String(cString: $0) } ?? "", disks: disks)
        }
    }

    /// Sets the guest's clock from its RTC through the agent (`virDomainSetTime` with
    /// `VIR_DOMAIN_TIME_SYNC`), as after a resume.
    public func syncTime() throws {
        try LibvirtError.status("virDomainSetTime") { virDomainSetTime(handle, 0, 0, VIR_DOMAIN_TIME_SYNC.rawValue) }
    }

    /// Shuts the guest down through the agent, or with the ACPI power button.
    public func shutdown(throughAgent: Bool) throws {
        let flags = throughAgent ? VIR_DOMAIN_SHUTDOWN_GUEST_AGENT.rawValue : VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN.rawValue
        try LibvirtError.status("virDomainShutdownFlags") { virDomainShutdownFlags(handle, flags) }
    }

    /// Reboots the guest through the agent, or with the ACPI power button.
    public func reboot(throughAgent: Bool) throws {
        let flags = throughAgent ? VIR_DOMAIN_REBOOT_GUEST_AGENT.rawValue : VIR_DOMAIN_REBOOT_ACPI_POWER_BTN.rawValue
        try LibvirtError.status("virDomainReboot") { virDomainReboot(handle, flags) }
    }

    private static func withCStrings<T>(_ strings: [String],
                                        _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>?, UInt32) throws -> T) throws -> T {
        guard !strings.isEmpty else { return try body(nil, 0) }
        let copies = strings.map { UnsafePointer(strdup($0)) }
        defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        var pointers = copies
        return try pointers.withUnsafeMutableBufferPointer { try body($0.baseAddress, UInt32(strings.count)) }
    }
}

extension LibvirtError {
    /// The guest agent did not answer in time, or is not connected (libvirt uses one code for both).
    public var isAgentUnresponsive: Bool { code == Int32(VIR_ERR_AGENT_UNRESPONSIVE.rawValue) }
}
