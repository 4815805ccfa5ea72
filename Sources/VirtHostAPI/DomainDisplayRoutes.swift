import HTTPServer
import VirtHost

/// `GET /v1/domains/{ref}/screenshot`: the running domain's display as PNG.
struct DomainDisplayRoutes {
    let host: Host

    func register(in router: inout Router) {
        router.get("/v1/domains/{ref}/screenshot") { [host] request in
            let png = try await host.guest(for: request.pathParameter("ref") ?? "").screenshotPNG()
            var response = Response(contentType: "image/png", body: png)
            // A display changes from one moment to the next.
            response.headers.set("Cache-Control", "no-store")
            return response
        }
    }
}
