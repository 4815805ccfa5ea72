import FoundationEssentials
import GuestConfig
import HTTPServer
import VirtHost

/// `/v1/domains/{ref}/console/serial` and `/console/vnc`: a guest's serial console and VNC
/// display over WebSocket, opened with a bearer token or a one-time ticket
/// (`POST /v1/domains/{ref}/console-tickets`).
struct ConsoleRoutes {
    let host: Host
    let tickets: ConsoleTickets
    let audit: AuditLog?
    /// ``WebSocket/Configuration/idleTimeout`` of every console's socket.
    let idleTimeout: Duration?
    var socketConfiguration: WebSocket.Configuration { WebSocket.Configuration(idleTimeout: idleTimeout) }

    /// A console is root on the guest: `write` scope, unless the request carries a ticket,
    /// which the route itself checks (a browser's WebSocket cannot send a bearer token).
    static let consoleAccess = RouteAccess.decided { request in request.query("ticket") != nil ? .public : .write }

    static let consoleBusy = "console-busy"
    static let consoleDeviceNotFound = "console-device-not-found"
    static let invalidConsoleTicketRequest = "invalid-console-ticket-request"
    static let consoleLogNotFound = "console-log-not-found"

    func register(in router: inout Router) {
        router.post("/v1/domains/{ref}/console-tickets", options: .jsonBody()) { [host, tickets] request in
            let reference = request.pathParameter("ref") ?? ""
            let asked: ConsoleTicketRequest
            do throws(GuestSpecError) {
                asked = try ConsoleTicketRequest.read(json: request.body)
            } catch {
                throw ConsoleTicketRequestError(errors: error)
            }
            let uuid = try await host.guest(for: reference).uuid
            let issued = tickets.issue(ConsoleTickets.Grant(domainUUID: uuid, kind: asked.kind, principal: request.principal))
            var response = Response.json(IssuedTicket(ticket: issued.ticket, expiresAt: issued.expiresAt,
                                                      url: "/v1/domains/\(uuid)/console/\(asked.kind)?ticket=\(issued.ticket)"),
                                         status: 201)
            // A ticket is a credential: no cache keeps it.
            response.headers.add("Cache-Control", "no-store")
            return response
        }
        router.get("/v1/domains/{ref}/console/serial", options: RouteOptions(access: Self.consoleAccess, upgrade: true)) {
            [host, self] request in
            let reference = request.pathParameter("ref") ?? ""
            let force = try request.bool("force", default: false)
            let device = request.query("device")
            // A request that is no WebSocket upgrade is refused before the console is touched
            // (and before a ticket is spent).
            _ = try WebSocketHandshake.headers(for: request, subprotocols: [])
            let caller = try await authorise(request, reference: reference, kind: "serial")
            let session: SerialConsoleSession
            do throws(ConsoleError) {
                session = try await SerialConsole(host: host).open(reference, device: device, force: force)
            } catch {
                throw Self.problem(error, reference: reference)
            }
            // Closes the session if libmicrohttpd drops the upgrade without running it (the
            // client left after the 101 was queued): nothing else would end its thread.
            let owner = SessionOwner(session)
            do {
                return try .webSocket(request, configuration: socketConfiguration) { socket in
                    await audited(caller, kind: "serial", reference: reference, request: request) {
                        await Self.relay(owner.session, socket)
                    }
                }
            } catch {
                session.close()
                throw error
            }
        }
        registerVNC(in: &router)
        // What the console printed can hold what was typed into it: write scope, like the console.
        router.get("/v1/domains/{ref}/console/log", options: RouteOptions(access: .write)) { [host] request in
            let reference = request.pathParameter("ref") ?? ""
            let bytes = try request.integer("tail_bytes", in: Self.tailBytesRange) ?? Self.defaultTailBytes
            do throws(ConsoleLogError) {
                return Response(contentType: "text/plain; charset=utf-8", body: try await ConsoleLog(host: host).tail(reference, bytes: bytes))
            } catch {
                switch error {
                case .noLog(let domain, let reason):
                    throw Problem(type: Problem.type(Self.consoleLogNotFound), title: "Console Log Not Found", status: 404,
                                  detail: "the domain \(domain) has no console log: \(reason)",
                                  extensions: ["domain": .string(reference)])
                case .host(let error):
                    throw error.problem
                }
            }
        }
    }

    static let tailBytesRange = 1...(16 << 20)
    static let defaultTailBytes = 64 << 10

    /// noVNC asks for the `binary` subprotocol; a client offering none is served too.
    static let vncSubprotocols = ["binary"]

    func registerVNC(in router: inout Router) {
        router.get("/v1/domains/{ref}/console/vnc", options: RouteOptions(access: Self.consoleAccess, upgrade: true)) {
            [host, self] request in
            let reference = request.pathParameter("ref") ?? ""
            _ = try WebSocketHandshake.headers(for: request, subprotocols: Self.vncSubprotocols)
            let caller = try await authorise(request, reference: reference, kind: "vnc")
            let session: GraphicsConsoleSession
            do throws(ConsoleError) {
                session = try await GraphicsConsole(host: host).openVNC(reference)
            } catch {
                throw Self.problem(error, reference: reference)
            }
            let owner = DisplayOwner(session)
            do {
                return try .webSocket(request, subprotocols: Self.vncSubprotocols, configuration: socketConfiguration) { socket in
                    await audited(caller, kind: "vnc", reference: reference, request: request) {
                        await Self.relay(owner.session, socket)
                    }
                }
            } catch {
                session.close()
                throw error
            }
        }
    }

    /// Who opens a console, and how: the token's name the server admitted (`bearer`), or the
    /// ticket's, which is spent here; a refused ticket is 401.
    struct Caller: Sendable {
        let principal: String?
        let via: String
    }

    func authorise(_ request: Request, reference: String, kind: String) async throws -> Caller {
        guard let ticket = request.query("ticket") else {
            return Caller(principal: request.principal, via: request.principal == nil ? "none" : "bearer")
        }
        let grant: ConsoleTickets.Grant
        switch tickets.redeem(ticket, kind: kind) {
        case .success(let granted): grant = granted
        case .failure(let refusal): throw ConsoleTickets.problem(refusal)
        }
        let uuid: String
        do {
            uuid = try await host.guest(for: reference).uuid
        } catch {
            throw ConsoleTickets.problem(.wrongDomain)
        }
        guard uuid == grant.domainUUID else { throw ConsoleTickets.problem(.wrongDomain) }
        return Caller(principal: grant.principal, via: "ticket")
    }

    /// Runs a console session between audit lines of its start and end.
    func audited(_ caller: Caller, kind: String, reference: String, request: Request,
                 _ session: () async -> Void) async {
        audit?.consoleSession("console_session_start", kind: kind, domain: reference, principal: caller.principal,
                              via: caller.via, requestID: request.id)
        await session()
        audit?.consoleSession("console_session_end", kind: kind, domain: reference, principal: caller.principal,
                              via: caller.via, requestID: request.id)
    }

    /// RFB bytes both ways, unchanged, as binary frames; each direction waits for its write
    /// before it reads again, so a slow side slows the other instead of filling memory.
    static func relay(_ session: GraphicsConsoleSession, _ socket: WebSocket) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    let bytes = await session.receive()
                    guard !bytes.isEmpty, await socket.send(.binary(bytes)) else { break }
                }
                await socket.close(.normal, reason: "the display ended (the domain stopped)")
                session.close()
            }
            group.addTask {
                while let message = await socket.receive() {
                    let bytes: [UInt8]
                    switch message {
                    case .binary(let data): bytes = data
                    case .text(let text): bytes = Array(text.utf8)
                    }
                    guard await session.send(bytes) else { break }
                }
                session.close()
            }
        }
    }

    /// Closes the display's socket when the upgrade handler is released, run or not.
    final class DisplayOwner: Sendable {
        let session: GraphicsConsoleSession
        init(_ session: GraphicsConsoleSession) { self.session = session }
        deinit { session.close() }
    }

    /// Bytes both ways as binary frames (text frames are taken as input too), until either
    /// side ends: the console's end closes the socket with 1000.
    static func relay(_ session: SerialConsoleSession, _ socket: WebSocket) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await chunk in session.output {
                    guard await socket.send(.binary(chunk)) else { break }
                }
                await socket.close(.normal, reason: "the console ended (the domain stopped or another session took it)")
            }
            group.addTask {
                while let message = await socket.receive() {
                    switch message {
                    case .binary(let bytes): session.write(bytes)
                    case .text(let text): session.write(Array(text.utf8))
                    }
                }
                session.close()
            }
        }
    }

    /// Owns a session for the upgrade handler: when the handler is released, run or not, the
    /// session is closed (closing twice is harmless).
    final class SessionOwner: Sendable {
        let session: SerialConsoleSession
        init(_ session: SerialConsoleSession) { self.session = session }
        deinit { session.close() }
    }

    static func problem(_ error: ConsoleError, reference: String) -> Problem {
        switch error {
        case .busy(let domain):
            return Problem(type: Problem.type(consoleBusy), title: "Console Busy", status: 409,
                           detail: "another session holds the console of \(domain); open it with ?force=true to take it over",
                           extensions: ["domain": .string(reference)])
        case .noSuchDevice(let device):
            return Problem(type: Problem.type(consoleDeviceNotFound), title: "Console Device Not Found", status: 404,
                           detail: "the domain has no console device \(device)", extensions: ["parameter": .string("device")])
        case .host(let error):
            return error.problem
        }
    }
}

/// `POST /v1/domains/{ref}/console-tickets`'s answer.
struct IssuedTicket: Encodable {
    let ticket: String
    let expiresAt: Date
    let url: String

    enum CodingKeys: String, CodingKey {
        case ticket, url
        case expiresAt = "expires_at"
    }
}

/// A console-ticket request whose fields are wrong.
struct ConsoleTicketRequestError: Error, ProblemConvertible {
    let errors: GuestSpecError

    var problem: Problem {
        var problem = errors.problem
        guard !errors.isMalformedJSON else { return problem }
        problem.type = Problem.type(ConsoleRoutes.invalidConsoleTicketRequest)
        problem.title = "Invalid Console Ticket Request"
        return problem
    }
}
