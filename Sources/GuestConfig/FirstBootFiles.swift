import FoundationEssentials

/// The files of a guest's first-boot disk and the label its ISO 9660 volume carries:
///
/// - `nocloud` (cloud-init's NoCloud data source, label `cidata`): `meta-data` (instance-id,
///   local-hostname, public-keys), `user-data` and `network-config` (version 2);
/// - `config-drive` (OpenStack's, label `config-2`): `openstack/<version>/meta_data.json`,
///   `user_data` and `network_data.json`, under `latest` and under the dated version Nova
///   writes last.
///
/// The metadata and network files are JSON (which YAML readers take as well), written with
/// sorted keys so the same spec gives the same bytes.
public struct FirstBootFiles: Sendable, Hashable {
    public struct File: Sendable, Hashable {
        /// Relative, of fixed names only: nothing from the spec becomes a path.
        public var path: String
        public var content: [UInt8]
    }

    /// The dated version directory Nova writes beside `latest` (its newest).
    public static let openStackVersion = "2018-08-27"
    /// Written when the spec has no user data: an empty cloud-config that cloud-init accepts.
    public static let emptyCloudConfig = "#cloud-config\n{}\n"

    public var label: String
    public var files: [File]

    public var totalBytes: Int { files.reduce(0) { $0 + $1.content.count } }

    /// - Parameters:
    ///   - name: the guest's name; its host name when the spec gives none.
    ///   - uuid: the guest's UUID, its instance id.
    ///   - macs: the guest's interfaces' MACs, each given DHCP when the spec has no network config.
    public init(_ spec: FirstBootSpec, name: String, uuid: String, macs: [String]) {
        label = spec.volumeLabel
        let hostname = spec.hostname ?? FirstBootSpec.hostname(forGuest: name)
        let keys = spec.sshAuthorizedKeys.map { key in
            (try? SSHPublicKey.parse(key).get())?.line ?? key
        }
        let network = spec.networkConfig ?? (macs.isEmpty ? nil : NetworkConfig.dhcp(macs: macs))
        let meta = JSONValue.object(spec.metaData.mapValues { .string($0) })
        var files: [File] = []
        func add(_ path: String, _ text: String) { files.append(File(path: path, content: Array(text.utf8))) }
        func add(_ path: String, _ value: JSONValue) { files.append(File(path: path, content: value.encoded())) }

        if spec.format == "config-drive" {
            var metaData: [String: JSONValue] = [
                "uuid": .string(uuid), "name": .string(name), "hostname": .string(hostname), "launch_index": .int(0),
            ]
            if !keys.isEmpty {
                let names = keys.indices.map { "key-\($0)" }
                metaData["public_keys"] = .object(Dictionary(uniqueKeysWithValues: zip(names, keys.map(JSONValue.string))))
                metaData["keys"] = .array(zip(names, keys).map { name, key in
                    .object(["name": .string(name), "type": .string("ssh"), "data": .string(key)])
                })
            }
            if !spec.metaData.isEmpty { metaData["meta"] = meta }
            for version in ["latest", Self.openStackVersion] {
                let directory = "openstack/" + version + "/"
                add(directory + "meta_data.json", .object(metaData))
                if let userData = spec.userData { add(directory + "user_data", userData) }
                if let network { add(directory + "network_data.json", Self.networkData(network)) }
            }
        } else {
            var metaData: [String: JSONValue] = ["instance-id": .string(uuid), "local-hostname": .string(hostname)]
            if !keys.isEmpty { metaData["public-keys"] = .array(keys.map(JSONValue.string)) }
            if !spec.metaData.isEmpty { metaData["meta"] = meta }
            add("meta-data", .object(metaData))
            add("user-data", spec.userData ?? Self.emptyCloudConfig)
            if let network { add("network-config", Self.networkConfigV2(network)) }
        }
        self.files = files
    }

    // MARK: Network

    /// The network config as version 2 (netplan's shape), as cloud-init reads `network-config`.
    static func networkConfigV2(_ config: NetworkConfig) -> JSONValue {
        var ethernets: [String: JSONValue] = [:]
        for ethernet in config.ethernets {
            var fields: [String: JSONValue] = [:]
            var match: [String: JSONValue] = [:]
            if let mac = ethernet.matchMACAddress { match["macaddress"] = .string(mac.lowercased()) }
            if let name = ethernet.matchName { match["name"] = .string(name) }
            if !match.isEmpty { fields["match"] = .object(match) }
            if let name = ethernet.setName { fields["set-name"] = .string(name) }
            if let dhcp4 = ethernet.dhcp4 { fields["dhcp4"] = .bool(dhcp4) }
            if let dhcp6 = ethernet.dhcp6 { fields["dhcp6"] = .bool(dhcp6) }
            if !ethernet.addresses.isEmpty { fields["addresses"] = .array(ethernet.addresses.map(JSONValue.string)) }
            if let gateway = ethernet.gateway4 { fields["gateway4"] = .string(gateway) }
            if let gateway = ethernet.gateway6 { fields["gateway6"] = .string(gateway) }
            if let mtu = ethernet.mtu { fields["mtu"] = .int(mtu) }
            if !ethernet.nameservers.isEmpty || !ethernet.searchDomains.isEmpty {
                fields["nameservers"] = .object([
                    "addresses": .array(ethernet.nameservers.map(JSONValue.string)),
                    "search": .array(ethernet.searchDomains.map(JSONValue.string)),
                ])
            }
            if !ethernet.routes.isEmpty {
                fields["routes"] = .array(ethernet.routes.map { route in
                    var fields: [String: JSONValue] = ["to": .string(route.to), "via": .string(route.via)]
                    if let metric = route.metric { fields["metric"] = .int(metric) }
                    return .object(fields)
                })
            }
            ethernets[ethernet.id] = .object(fields)
        }
        return .object(["version": .int(2), "ethernets": .object(ethernets)])
    }

    /// The same network as OpenStack's `network_data.json`: a link per ethernet (by MAC), a
    /// network per DHCP setting and per address, its routes, and the name servers as services.
    static func networkData(_ config: NetworkConfig) -> JSONValue {
        var links: [JSONValue] = []
        var networks: [JSONValue] = []
        var services: [JSONValue] = []
        for ethernet in config.ethernets {
            var link: [String: JSONValue] = ["id": .string(ethernet.id), "type": .string("phy")]
            if let mac = ethernet.matchMACAddress { link["ethernet_mac_address"] = .string(mac.lowercased()) }
            if let mtu = ethernet.mtu { link["mtu"] = .int(mtu) }
            links.append(.object(link))
            func network(_ type: String, _ extra: [String: JSONValue] = [:]) {
                let id = "network\(networks.count)"
                networks.append(.object(extra.merging([
                    "id": .string(id), "network_id": .string(id), "link": .string(ethernet.id), "type": .string(type),
                ]) { $1 }))
            }
            if ethernet.dhcp4 == true { network("ipv4_dhcp") }
            if ethernet.dhcp6 == true { network("ipv6_dhcp") }
            // Addresses are checked CIDRs; anything else is skipped rather than trusted.
            for address in ethernet.addresses where NetworkConfig.isCIDR(address) {
                let parts = address.split(separator: "/", maxSplits: 1)
                let ip = String(parts[0])
                let length = Int(parts[1]) ?? 0
                let isIPv4 = NetworkConfig.isIPv4(ip)
                var routes: [JSONValue] = []
                if isIPv4, let gateway = ethernet.gateway4 { routes.append(route(to: "default", via: gateway)) }
                if !isIPv4, let gateway = ethernet.gateway6 { routes.append(route(to: "default", via: gateway)) }
                for route in ethernet.routes where NetworkConfig.isIPv4(route.via) == isIPv4
                    && (route.to == "default" || NetworkConfig.isCIDR(route.to)) {
                    routes.append(Self.route(to: route.to, via: route.via))
                }
                network(isIPv4 ? "ipv4" : "ipv6", [
                    "ip_address": .string(ip), "netmask": .string(isIPv4 ? NetworkConfig.netmask(prefixLength: length)
                                                                  : NetworkConfig.ipv6Netmask(prefixLength: length)),
                    "routes": .array(routes),
                ])
            }
            services += ethernet.nameservers.map { .object(["type": .string("dns"), "address": .string($0)]) }
        }
        return .object(["links": .array(links), "networks": .array(networks), "services": .array(services)])
    }

    private static func route(to: String, via: String) -> JSONValue {
        let isIPv4 = NetworkConfig.isIPv4(via)
        let (network, length): (String, Int)
        let parts = to.split(separator: "/", maxSplits: 1)
        if to == "default" || parts.count != 2 {
            (network, length) = (isIPv4 ? "0.0.0.0" : "::", 0)
        } else {
            (network, length) = (String(parts[0]), Int(parts[1]) ?? 0)
        }
        let netmask = isIPv4 ? NetworkConfig.netmask(prefixLength: length) : NetworkConfig.ipv6Netmask(prefixLength: length)
        return .object(["network": .string(network), "netmask": .string(netmask), "gateway": .string(via)])
    }
}

/// A JSON document to write: Foundation's encoder does the escaping, with sorted keys.
enum JSONValue: Encodable, Hashable, Sendable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case int(Int)
    case bool(Bool)

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .object(let object): try container.encode(object)
        case .array(let array): try container.encode(array)
        case .string(let string): try container.encode(string)
        case .int(let int): try container.encode(int)
        case .bool(let bool): try container.encode(bool)
        }
    }

    /// The document's bytes and a final newline. Encoding strings, numbers and booleans cannot fail.
    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // swiftlint:disable:next force_try
        return Array(try! encoder.encode(self)) + [UInt8(ascii: "\n")]
    }
}
