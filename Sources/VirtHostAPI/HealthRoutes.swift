import HTTPServer
import VirtHost

/// `/healthz` (the process runs) and `/readyz` (libvirt answers).
struct HealthRoutes {
    let host: Host

    struct Status: Encodable {
        let status: String
    }

    func register(in router: inout Router) {
        router.get("/healthz", options: RouteOptions(access: .public)) { _ in .json(Status(status: "ok")) }
        router.get("/readyz", options: RouteOptions(access: .public)) { [host] _ in
            try await host.ping()
            return .json(Status(status: "ready"))
        }
    }
}
