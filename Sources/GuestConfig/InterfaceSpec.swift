/// One network interface.
public struct InterfaceSpec: Sendable, Hashable {
    /// `user`: QEMU's user-mode networking (SLIRP), no host device or bridge needed.
    public static let types = ["bridge", "network", "ethernet", "direct", "vhostuser", "user"]
    public static let models = ["virtio", "e1000", "e1000e", "rtl8139"]

    /// An nwfilter and its parameters (`<filterref filter='...'>`).
    public struct Filter: Sendable, Hashable {
        public var name: String
        public var parameters: [String: String]

        public init(name: String, parameters: [String: String] = [:]) {
            self.name = name
            self.parameters = parameters
        }
    }

    /// Anti-spoofing protection: a per-interface nwfilter built on libvirt's `clean-traffic`.
    public struct Firewall: Sendable, Hashable {
        public var enabled: Bool
        /// The IPv4 addresses the guest may send from (clean-traffic's `IP` parameter).
        public var allowedIPs: [String]
        public var allowDHCP: Bool

        public init(enabled: Bool = true, allowedIPs: [String] = [], allowDHCP: Bool = false) {
            self.enabled = enabled
            self.allowedIPs = allowedIPs
            self.allowDHCP = allowDHCP
        }
    }

    public static let mtuRange = 68...65535
    public static let queuesRange = 1...256
    public static let directModes = ["bridge", "vepa", "private", "passthrough"]
    public static let vhostUserModes = ["client", "server"]

    /// `network` when nil.
    public var type: String?
    /// The bridge, network, host device (direct) or socket path (vhostuser); `default` for
    /// `network` when nil.
    public var source: String?
    /// Derived from the guest UUID in `52:54:00` when nil, so the same spec renders the same.
    public var mac: String?
    /// `virtio` when nil.
    public var model: String?
    public var mtu: Int?
    /// The host-side tap device name.
    public var target: String?
    public var filter: Filter?
    /// direct: the macvtap mode (`bridge` when nil); vhostuser: `client` (default) or `server`.
    public var mode: String?
    /// virtio multiqueue: queue pairs (`<driver name='vhost' queues='N'/>`).
    public var queues: Int?
    public var firewall: Firewall?

    public init(type: String? = nil, source: String? = nil, mac: String? = nil, model: String? = nil,
                mtu: Int? = nil, target: String? = nil, filter: Filter? = nil, mode: String? = nil, queues: Int? = nil,
                firewall: Firewall? = nil) {
        self.mode = mode
        self.queues = queues
        self.firewall = firewall
        self.type = type
        self.source = source
        self.mac = mac
        self.model = model
        self.mtu = mtu
        self.target = target
        self.filter = filter
    }

    init(reader: ObjectReader) {
        type = reader.choice("type", Self.types)
        source = reader.string("source")
        mac = reader.string("mac")
        model = reader.choice("model", Self.models)
        mtu = reader.int("mtu", in: InterfaceSpec.mtuRange)
        target = reader.string("target")
        filter = reader.object("filter").map { filter in
            defer { filter.finish() }
            if !filter.has("name") { filter.errors.add(filter.path("name"), "is required") }
            return Filter(name: filter.string("name") ?? "", parameters: filter.stringMap("parameters"))
        }
        mode = reader.choice("mode", Self.directModes + Self.vhostUserModes)
        queues = reader.int("queues", in: InterfaceSpec.queuesRange)
        firewall = reader.object("firewall").map { firewall in
            defer { firewall.finish() }
            let ips = firewall.array("allowed_ips").compactMap { item -> String? in
                guard case .string(let ip) = item.value else {
                    firewall.errors.add(item.pointer, "must be a string")
                    return nil
                }
                return ip
            }
            return Firewall(enabled: firewall.bool("enabled") ?? true, allowedIPs: ips,
                            allowDHCP: firewall.bool("allow_dhcp") ?? false)
        }
        reader.finish()
    }
}

/// A host PCI device passed through to the guest.
public struct PCIDeviceSpec: Sendable, Hashable {
    /// `DDDD:BB:SS.F`, e.g. `0000:81:00.1`.
    public var address: String
    /// libvirt detaches the device from its host driver and reattaches it after (default).
    public var managed: Bool

    public init(address: String, managed: Bool = true) {
        self.address = address
        self.managed = managed
    }

    init(reader: ObjectReader) {
        if !reader.has("address") { reader.errors.add(reader.path("address"), "is required") }
        address = reader.string("address") ?? ""
        managed = reader.bool("managed") ?? true
        reader.finish()
    }

    /// The address's parts, or nil when it is not `DDDD:BB:SS.F` in hex.
    public var parts: (domain: Int, bus: Int, slot: Int, function: Int)? {
        if address.utf8.allSatisfy({ $0 < 0x80 }) {
            // ASCII, read byte by byte: what the general form below says, without splitting.
            let bytes = Array(address.utf8)
            guard bytes.count == 12, bytes[4] == UInt8(ascii: ":"), bytes[7] == UInt8(ascii: ":"),
                  bytes[10] == UInt8(ascii: ".") else { return nil }
            var value = 0
            var fields: [Int] = []
            for (offset, byte) in bytes.enumerated() {
                if offset == 4 || offset == 7 || offset == 10 {
                    fields.append(value)
                    value = 0
                    continue
                }
                guard GuestDefinition.isASCIIHexDigit(byte) else { return nil }
                value = value * 16 + Int(GuestDefinition.hexValue(byte))
            }
            fields.append(value)
            guard fields[2] < 32, fields[3] < 8 else { return nil }
            return (fields[0], fields[1], fields[2], fields[3])
        }
        let pieces = address.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0].count == 4, pieces[1].count == 2 else { return nil }
        let slotFunction = pieces[2].split(separator: ".", omittingEmptySubsequences: false)
        guard slotFunction.count == 2, slotFunction[0].count == 2, slotFunction[1].count == 1,
              let domain = Int(pieces[0], radix: 16), let bus = Int(pieces[1], radix: 16),
              let slot = Int(slotFunction[0], radix: 16), let function = Int(slotFunction[1], radix: 16),
              slot < 32, function < 8,
              (pieces.prefix(2) + slotFunction).allSatisfy({ $0.allSatisfy(\.isHexDigit) })
        else { return nil }
        return (domain, bus, slot, function)
    }
}
