/// The per-interface nwfilter of an interface whose firewall is on: libvirt's `clean-traffic`
/// (no MAC, IP or ARP spoofing) with the allowed addresses, and DHCP when asked.
public enum FirewallConfig {
    /// The base filter every per-interface filter builds on.
    public static let baseFilter = "clean-traffic"
    /// libvirt's filter letting a guest get its address by DHCP.
    public static let dhcpFilter = "allow-dhcp"
    public static let prefix = "virthost-"

    /// `virthost-<uuid>-<mac without colons>`.
    public static func filterName(uuid: String, mac: String) -> String {
        prefix + uuid.lowercased() + "-" + mac.lowercased().replacing(":", with: "")
    }

    /// The UUID a filter name belongs to, or nil when it is not one of ours.
    public static func ownerUUID(ofFilter name: String) -> String? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard rest.count == 36 + 1 + 12 else { return nil }
        return String(rest.prefix(36))
    }

    public static func filter(name: String, firewall: InterfaceSpec.Firewall) -> Element {
        Element("filter", [("name", name), ("chain", "root")]) {
            Element("filterref", [("filter", baseFilter)]) {
                for ip in firewall.allowedIPs { Element("parameter", [("name", "IP"), ("value", ip)]) }
            }
            if firewall.allowDHCP { Element("filterref", [("filter", dhcpFilter)]) }
        }
    }
}
