/// The part of cloud-init's network config version 2 (netplan's format) the service documents
/// and checks: ethernets matched by MAC or name, DHCP, static addresses, gateways, routes,
/// DNS and MTU. The NoCloud disk carries it as written; the config drive carries the same
/// network translated to OpenStack's `network_data.json`.
public struct NetworkConfig: Sendable, Hashable {
    public struct Route: Sendable, Hashable {
        /// A CIDR, or `default`.
        public var to: String
        public var via: String
        public var metric: Int?
    }

    public struct Ethernet: Sendable, Hashable {
        /// The key in `ethernets`: a name of the config's own.
        public var id: String
        public var matchMACAddress: String?
        public var matchName: String?
        public var setName: String?
        public var dhcp4: Bool?
        public var dhcp6: Bool?
        /// CIDRs: `192.0.2.10/24`, `2001:db8::10/64`.
        public var addresses: [String] = []
        public var gateway4: String?
        public var gateway6: String?
        public var mtu: Int?
        public var nameservers: [String] = []
        public var searchDomains: [String] = []
        public var routes: [Route] = []
    }

    public var ethernets: [Ethernet]

    public static let mtuRange = 68...65535
    public static let metricRange = 0...Int(UInt32.max)

    public init(ethernets: [Ethernet]) { self.ethernets = ethernets }

    /// DHCP on each of the guest's interfaces, matched by MAC: what a guest without a
    /// `network_config` is given.
    public static func dhcp(macs: [String]) -> NetworkConfig {
        NetworkConfig(ethernets: macs.enumerated().map { index, mac in
            Ethernet(id: "nic\(index)", matchMACAddress: mac, dhcp4: true)
        })
    }

    init(reader: ObjectReader) {
        let errors = reader.errors
        if let version = reader.int("version", in: 2...2), version != 2 {
            errors.add(reader.path("version"), "must be 2 (network config version 2), got \(version)")
        } else if !reader.has("version") {
            errors.add(reader.path("version"), "is required: 2")
        }
        let members = reader.objectMembers("ethernets") { id, ethernet -> Ethernet in
            Self.ethernet(id: id, reader: ethernet)
        }
        ethernets = members.map(\.value)
    }

    private static func ethernet(id: String, reader: ObjectReader) -> Ethernet {
        let errors = reader.errors
        var ethernet = Ethernet(id: id)
        if !LibvirtFormats.consists(of: id, alphanumericsAnd: "_.-") || id.utf8.count > 15 {
            errors.add(reader.pointer, "is named by a key of 1 to 15 letters, digits, '_', '.' and '-', got \(id.prefix(40))")
        }
        if let match = reader.object("match") {
            ethernet.matchMACAddress = match.string("macaddress")
            ethernet.matchName = match.string("name")
            if let mac = ethernet.matchMACAddress, !GuestDefinition.isValidMAC(mac) {
                errors.add(match.path("macaddress"), "must be a MAC address like 52:54:00:12:34:56, got \(mac)")
            }
            if let name = ethernet.matchName, !isInterfaceName(name, glob: true) {
                errors.add(match.path("name"), "must be an interface name (a '*' may stand for any part), got \(name)")
            }
            if ethernet.matchMACAddress == nil, ethernet.matchName == nil {
                errors.add(match.pointer, "needs macaddress or name")
            }
            match.finish()
        }
        ethernet.setName = reader.string("set-name")
        if let name = ethernet.setName, !isInterfaceName(name, glob: false) {
            errors.add(reader.path("set-name"), "must be an interface name of 1 to 15 letters, digits, '_', '.' and '-', got \(name)")
        }
        ethernet.dhcp4 = reader.bool("dhcp4")
        ethernet.dhcp6 = reader.bool("dhcp6")
        for (address, at) in reader.strings("addresses") {
            if !isCIDR(address) { errors.add(at, "must be an address with its prefix length, like 192.0.2.10/24, got \(address)") }
            ethernet.addresses.append(address)
        }
        ethernet.gateway4 = reader.string("gateway4")
        if let gateway = ethernet.gateway4, !isIPv4(gateway) {
            errors.add(reader.path("gateway4"), "must be an IPv4 address, got \(gateway)")
        }
        ethernet.gateway6 = reader.string("gateway6")
        if let gateway = ethernet.gateway6, !LibvirtFormats.isIPv6(gateway) {
            errors.add(reader.path("gateway6"), "must be an IPv6 address, got \(gateway)")
        }
        ethernet.mtu = reader.int("mtu", in: mtuRange)
        if let mtu = ethernet.mtu, !mtuRange.contains(mtu) {
            errors.add(reader.path("mtu"), "must be between \(mtuRange.lowerBound) and \(mtuRange.upperBound), got \(mtu)")
        }
        if let nameservers = reader.object("nameservers") {
            for (address, at) in nameservers.strings("addresses") {
                if !isIPv4(address), !LibvirtFormats.isIPv6(address) {
                    errors.add(at, "must be an IP address, got \(address)")
                }
                ethernet.nameservers.append(address)
            }
            for (domain, at) in nameservers.strings("search") {
                if !FirstBootSpec.isHostname(domain) { errors.add(at, "must be a DNS domain, got \(domain)") }
                ethernet.searchDomains.append(domain)
            }
            nameservers.finish()
        }
        ethernet.routes = reader.objects("routes") { route in
            let to = route.string("to") ?? ""
            let via = route.string("via") ?? ""
            let metric = route.int("metric", in: metricRange)
            for key in ["to", "via"] where !route.has(key) { errors.add(route.path(key), "is required") }
            if route.has("to"), to != "default", !isCIDR(to) {
                errors.add(route.path("to"), "must be a network like 198.51.100.0/24, or default, got \(to)")
            }
            if route.has("via"), !isIPv4(via), !LibvirtFormats.isIPv6(via) {
                errors.add(route.path("via"), "must be an IP address, got \(via)")
            }
            if let metric, !metricRange.contains(metric) {
                errors.add(route.path("metric"), "must be between 0 and \(metricRange.upperBound), got \(metric)")
            }
            return Route(to: to, via: via, metric: metric)
        }
        return ethernet
    }

    /// Fields that make sense only in one format, checked once the format is known.
    func refusals(format: String, pointer: String) -> [FieldError] {
        guard format == "config-drive" else { return [] }
        // network_data.json names each link by its MAC; netplan-style name matching has no
        // counterpart there.
        return ethernets.compactMap { ethernet in
            ethernet.matchMACAddress == nil
                ? FieldError(pointer: pointer + "/ethernets/" + ObjectReader.escape(ethernet.id) + "/match/macaddress",
                             detail: "is required for a config drive, whose network_data.json names links by MAC")
                : nil
        }
    }

    // MARK: Addresses

    static func isIPv4(_ text: String) -> Bool { GuestDefinition.isValidIPv4(text) }

    /// An IPv4 or IPv6 address and a prefix length that fits it.
    static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy(\.isASCIIDigit),
              let length = Int(parts[1]) else { return false }
        let address = String(parts[0])
        if isIPv4(address) { return length <= 32 }
        return LibvirtFormats.isIPv6(address) && length <= 128
    }

    /// The prefix length as a dotted IPv4 netmask (for `network_data.json`).
    static func netmask(prefixLength: Int) -> String {
        let bits: UInt32 = prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefixLength)
        return [24, 16, 8, 0].map { String((bits >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    }

    /// The prefix length as an IPv6 mask in full groups (`ffff:ffff:ffff:ffff:0:0:0:0`).
    static func ipv6Netmask(prefixLength: Int) -> String {
        (0..<8).map { group in
            let bits = min(max(prefixLength - group * 16, 0), 16)
            return String(bits == 0 ? 0 : UInt16.max << UInt16(16 - bits), radix: 16)
        }.joined(separator: ":")
    }

    private static func isInterfaceName(_ name: String, glob: Bool) -> Bool {
        name.utf8.count <= 15 && LibvirtFormats.consists(of: name, alphanumericsAnd: glob ? "_.-*" : "_.-")
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
