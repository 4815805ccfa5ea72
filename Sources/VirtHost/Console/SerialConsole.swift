import Libvirt
import Locking
#if canImport(Glibc)
import Glibc
#endif

/// Why a console could not be opened.
public enum ConsoleError: Error, Sendable {
    /// Another session holds the console (open with `force` to take it).
    case busy(domain: String)
    /// The domain has no such console device.
    case noSuchDevice(String)
    case host(HostError)
}

/// A guest's serial console (`virDomainOpenConsole`), given the Host.
///
/// Each session has a connection of its own, opened on a thread of its own; its stream's bytes
/// then move on the one ``SerialConsolePump`` thread of the process, never on the Host's
/// thread nor Swift's cooperative pool, however long the session lasts.
public struct SerialConsole: Sendable {
    let host: Host

    public init(host: Host) { self.host = host }

    /// Opens the console of the running domain `reference` (UUID or name); `device` is a
    /// console alias such as `serial0`, nil for the first. Fails before any byte flows, so a
    /// caller can still answer with an HTTP error.
    public func open(_ reference: String, device: String?, force: Bool) async throws(ConsoleError) -> SerialConsoleSession {
        let session = SerialConsoleSession()
        let opened = Mutex<CheckedContinuation<ConsoleError?, Never>?>(nil)
        let failure: ConsoleError? = await withCheckedContinuation { (continuation: CheckedContinuation<ConsoleError?, Never>) in
            opened.withLock { $0 = continuation }
            let report: @Sendable (ConsoleError?) -> Void = { error in
                opened.withLock { pending in pending?.resume(returning: error); pending = nil }
            }
            Task {
                do throws(HostError) {
                    try await host.withDedicatedConnection(threadName: "virthost-console") { connection in
                        let stream: DataStream
                        do {
                            let domain = try Self.lookup(reference, on: connection)
                            guard domain.id() != nil else {
                                throw ConsoleError.host(.invalidState(action: "open the console of", state: "shut off"))
                            }
                            stream = try DataStream(connection: connection, nonBlocking: true)
                            try domain.openConsole(device: device, stream: stream, force: force)
                        } catch let error as ConsoleError {
                            report(error)
                            return
                        } catch let error as LibvirtError {
                            report(Self.consoleError(error, reference: reference, device: device))
                            return
                        }
                        report(nil)
                        // The opening thread's last use of the connection and the stream.
                        SerialConsolePump.shared.add(SerialConsolePump.Line(session: session, stream: stream,
                                                                             connection: connection))
                    }
                } catch {
                    report(.host(error))
                    session.finishOutput()
                }
            }
        }
        if let failure { throw failure }
        return session
    }

    static func lookup(_ reference: String, on connection: Connection) throws -> Domain {
        do {
            if Host.looksLikeUUID(reference), let byUUID = try? connection.lookupDomain(uuid: reference) { return byUUID }
            return try connection.lookupDomain(name: reference)
        } catch let error as LibvirtError where error.isNoDomain {
            throw ConsoleError.host(.domainNotFound(reference))
        }
    }

    /// libvirt says a console is taken with "Active console session exists" (an operation
    /// failure, code 9) and a missing device with "cannot find character device" (code 9 too).
    static func consoleError(_ error: LibvirtError, reference: String, device: String?) -> ConsoleError {
        if error.message.contains("Active console session") { return .busy(domain: reference) }
        if error.message.contains("cannot find character device") { return .noSuchDevice(device ?? "") }
        if error.isNoDomain { return .host(.domainNotFound(reference)) }
        return .host(.libvirt(error))
    }
}

/// An open serial console: what the guest prints as ``output``, and ``write(_:)`` for its input.
public final class SerialConsoleSession: Sendable {
    /// The guest's bytes; finishes when the console ends (the domain stopped, another session
    /// took it, or ``close()``).
    public let output: AsyncStream<[UInt8]>
    private let continuation: AsyncStream<[UInt8]>.Continuation

    private struct State {
        var input: [UInt8] = []
        var closed = false
    }
    private let state = Mutex(State())

    init() {
        (output, continuation) = AsyncStream.makeStream(of: [UInt8].self)
    }

    /// Queues bytes for the guest, and wakes the pump to send them at once.
    public func write(_ bytes: [UInt8]) {
        state.withLock { $0.input += bytes }
        SerialConsolePump.shared.wake()
    }

    /// Ends the session; the pump drops its stream and connection.
    public func close() {
        state.withLock { $0.closed = true }
        SerialConsolePump.shared.wake()
    }

    func finishOutput() { continuation.finish() }

    enum Movement { case active, idle, ended }

    /// One turn of the pump for this session: what the guest printed out, what was typed in.
    func move(_ stream: DataStream) -> Movement {
        var moved = false
        do {
            // 16 KiB a turn: a burst (a boot log) takes a few turns, each right after the last.
            switch try stream.receive(max: 16 * 1024) {
            case .bytes(let bytes):
                continuation.yield(bytes)
                moved = true
            case .end:
                return .ended
            case .wouldBlock:
                break
            }
            let (input, closed) = state.withLock { state in
                defer { state.input = [] }
                return (state.input, state.closed)
            }
            if closed { return .ended }
            var sent = 0
            while sent < input.count {
                let count = try stream.send(input[sent...])
                // The stream is full: the rest waits for a later turn, and the other sessions do not.
                guard count > 0 else { break }
                sent += count
                moved = true
            }
            if sent < input.count {
                state.withLock { $0.input = Array(input[sent...]) + $0.input }
            }
        } catch {
            return .ended
        }
        return moved ? .active : .idle
    }
}
