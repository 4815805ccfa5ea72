import HTTPServer
import VirtHost

/// `GET /v1/domains/{ref}/stats`: one domain's statistics as JSON.
struct DomainStatisticsRoutes {
    let host: Host

    func register(in router: inout Router) {
        router.get("/v1/domains/{ref}/stats") { [host] request in
            let groups = try Self.groups(request)
            return .json(try await host.guest(for: request.pathParameter("ref") ?? "").statistics(groups))
        }
    }

    /// `?stats=cpu,block` (comma-separated, repeatable); every group when absent.
    static func groups(_ request: Request) throws(Problem) -> Set<GuestStatistics.Group> {
        let values = request.queryValues("stats")
        guard !values.isEmpty else { return Set(GuestStatistics.Group.allCases) }
        var groups = Set<GuestStatistics.Group>()
        for name in values.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            guard let group = GuestStatistics.Group(rawValue: String(name)) else {
                let allowed = GuestStatistics.Group.allCases.map(\.rawValue).joined(separator: ", ")
                throw .badRequest("stats must be a comma-separated list of \(allowed), got \(name)", parameter: "stats")
            }
            groups.insert(group)
        }
        return groups
    }
}
