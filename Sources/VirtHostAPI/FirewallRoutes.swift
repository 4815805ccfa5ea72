import HTTPServer
import VirtHost

/// `/v1/firewall/filters` and `/v1/domains/{ref}/firewall`: the guests' network filters.
struct FirewallRoutes {
    let host: Host

    struct FilterList: Encodable {
        let filters: [ManagedFilter]
    }

    struct Protection: Encodable {
        let interfaces: [InterfaceProtection]
    }

    func register(in router: inout Router) {
        router.get("/v1/firewall/filters") { [host] request in
            let prune = try request.bool("prune", default: false)
            return .json(FilterList(filters: try await Firewall(host: host).filters(prune: prune)))
        }
        router.get("/v1/domains/{ref}/firewall") { [host] request in
            .json(Protection(interfaces: try await Firewall(host: host).report(request.pathParameter("ref") ?? "")))
        }
    }
}
