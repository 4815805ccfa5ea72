import FoundationEssentials
import GuestConfig
import Libvirt

/// Anti-spoofing for guest interfaces (Nova's `NWFilterFirewall`), given the Host: one filter
/// per protected interface, built on libvirt's `clean-traffic`.
public struct Firewall: Sendable {
    public let host: Host

    public init(host: Host) { self.host = host }

    /// How to get the base filters where they are missing.
    public static let installHint = "install libvirt's base network filters (Debian: apt-get install "
        + "libvirt-daemon-config-nwfilter, then restart libvirtd)"

    /// Whether libvirt has the base filter the per-interface filters build on.
    public func baseFiltersPresent() async -> Bool {
        (try? await host.nwFilterExists(FirewallConfig.baseFilter)) == true
    }

    /// Field errors for a spec that asks for the firewall where libvirt cannot give it.
    public func check(_ definition: GuestDefinition, pointer: String) async -> [FieldError] {
        guard !definition.firewallFilters.isEmpty, await !baseFiltersPresent() else { return [] }
        return definition.firewallFilters.keys.sorted().map { index in
            FieldError(pointer: "\(pointer)/\(index)/firewall",
                       detail: "libvirt has no \(FirewallConfig.baseFilter) filter to build on; \(Self.installHint)")
        }
    }

    /// Defines each filter; on a failure, those already defined are removed again.
    public func define(_ filters: [(name: String, xml: String)]) async throws(HostError) {
        var defined: [String] = []
        for filter in filters {
            do {
                try await host.defineNWFilter(xml: filter.xml)
                defined.append(filter.name)
            } catch {
                for name in defined { try? await host.undefineNWFilter(name) }
                throw error
            }
        }
    }

    public func remove(_ names: [String]) async {
        for name in names { try? await host.undefineNWFilter(name) }
    }

    /// Removes every filter of the domain `uuid`.
    public func removeFilters(ofDomain uuid: String) async throws(HostError) {
        let names = try await host.nwFilterNames().filter { FirewallConfig.ownerUUID(ofFilter: $0) == uuid.lowercased() }
        await remove(names)
    }

    /// The service's filters, and which belong to no existing domain; with `prune`, those
    /// are removed.
    public func filters(prune: Bool) async throws(HostError) -> [ManagedFilter] {
        let domains = Set(try await host.domains(.all, guestsOnly: false).map { $0.uuid.lowercased() })
        var result: [ManagedFilter] = []
        for name in try await host.nwFilterNames().sorted() {
            guard let owner = FirewallConfig.ownerUUID(ofFilter: name) else { continue }
            let orphaned = !domains.contains(owner)
            var removed = false
            if orphaned, prune {
                try await host.undefineNWFilter(name)
                removed = true
            }
            result.append(ManagedFilter(name: name, domainUUID: owner, orphaned: orphaned, removed: removed))
        }
        return result
    }

    /// Each interface of a domain, its filter and parameters, and whether libvirt has a
    /// binding for it on the interface's tap device now (the protection is in force).
    public func report(_ reference: String) async throws(HostError) -> [InterfaceProtection] {
        let xml = try await host.domainXML(reference)
        let interfaces: [(mac: String, target: String?, filter: String?, parameters: [String: [String]])]
        do {
            let root = try XMLTree(xml, root: "domain").root
            interfaces = (root.child("devices")?.children("interface") ?? []).map { interface in
                let filterref = interface.child("filterref")
                var parameters: [String: [String]] = [:]
                for parameter in filterref?.children("parameter") ?? [] {
                    if let name = parameter.attribute("name") { parameters[name, default: []].append(parameter.attribute("value") ?? "") }
                }
                return (interface.child("mac")?.attribute("address") ?? "", interface.child("target")?.attribute("dev"),
                        filterref?.attribute("filter"), parameters)
            }
        } catch {
            throw .unreadable("\(error)")
        }
        var result: [InterfaceProtection] = []
        for interface in interfaces {
            var parameters = interface.parameters
            // The firewall's own filter carries its parameters inside it.
            if let filter = interface.filter, FirewallConfig.ownerUUID(ofFilter: filter) != nil,
               let filterXML = try? await host.nwFilterXML(filter),
               let root = try? XMLTree(filterXML, root: "filter").root {
                for reference in root.children("filterref") {
                    for parameter in reference.children("parameter") {
                        if let name = parameter.attribute("name") {
                            parameters[name, default: []].append(parameter.attribute("value") ?? "")
                        }
                    }
                }
            }
            var inForce = false
            if interface.filter != nil, let target = interface.target {
                inForce = try await host.nwFilterBindingXML(portDevice: target) != nil
            }
            result.append(InterfaceProtection(mac: interface.mac, target: interface.target, filter: interface.filter,
                                              parameters: parameters, inForce: inForce))
        }
        return result
    }
}

/// A filter the firewall made.
public struct ManagedFilter: Sendable, Hashable, Encodable {
    public var name: String
    public var domainUUID: String
    /// Its domain no longer exists.
    public var orphaned: Bool
    public var removed: Bool

    enum CodingKeys: String, CodingKey {
        case name, orphaned, removed
        case domainUUID = "domain_uuid"
    }
}

/// One interface's protection.
public struct InterfaceProtection: Sendable, Hashable, Encodable {
    public var mac: String
    /// The host-side tap device, while the domain runs.
    @NullWhenAbsent public var target: String?
    @NullWhenAbsent public var filter: String?
    public var parameters: [String: [String]]
    /// libvirt has a binding for the filter on the tap device now.
    public var inForce: Bool

    enum CodingKeys: String, CodingKey {
        case mac, target, filter, parameters
        case inForce = "in_force"
    }
}
