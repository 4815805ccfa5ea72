import HTTPServer
import VirtHost

/// `/v1/domains/{ref}/console/serial` and `/console/vnc`: a guest's serial console and VNC
/// display over WebSocket.
struct ConsoleRoutes {
    let host: Host

    static let consoleBusy = "console-busy"
    static let consoleDeviceNotFound = "console-device-not-found"

    func register(in router: inout Router) {
        // A console is root on the guest: write scope.
        router.get("/v1/domains/{ref}/console/serial", options: RouteOptions(access: .write, upgrade: true)) { [host] request in
            let reference = request.pathParameter("ref") ?? ""
            let force = try request.bool("force", default: false)
            let device = request.query("device")
            // A request that is no WebSocket upgrade is refused before the console is touched.
            _ = try WebSocketHandshake.headers(for: request, subprotocols: [])
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
                return try .webSocket(request) { socket in await Self.relay(owner.session, socket) }
            } catch {
                session.close()
                throw error
            }
        }
        registerVNC(in: &router)
    }

    /// noVNC asks for the `binary` subprotocol; a client offering none is served too.
    static let vncSubprotocols = ["binary"]

    func registerVNC(in router: inout Router) {
        router.get("/v1/domains/{ref}/console/vnc", options: RouteOptions(access: .write, upgrade: true)) { [host] request in
            let reference = request.pathParameter("ref") ?? ""
            _ = try WebSocketHandshake.headers(for: request, subprotocols: Self.vncSubprotocols)
            let session: GraphicsConsoleSession
            do throws(ConsoleError) {
                session = try await GraphicsConsole(host: host).openVNC(reference)
            } catch {
                throw Self.problem(error, reference: reference)
            }
            let owner = DisplayOwner(session)
            do {
                return try .webSocket(request, subprotocols: Self.vncSubprotocols) { socket in
                    await Self.relay(owner.session, socket)
                }
            } catch {
                session.close()
                throw error
            }
        }
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
