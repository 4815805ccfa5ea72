import GuestConfig
import HTTPServer
import VirtHost

/// `POST /v1/domains/{ref}/send-key`: keys pressed on a running domain's keyboard.
struct DomainInputRoutes {
    let host: Host

    func register(in router: inout Router) {
        router.post("/v1/domains/{ref}/send-key", options: .jsonBody()) { [host] request in
            let press = try KeyPress.read(json: request.body)
            try await host.guest(for: request.pathParameter("ref") ?? "")
                .sendKeys(linux: press.codes, holdMilliseconds: press.holdMilliseconds)
            return Response(status: 204)
        }
    }
}
