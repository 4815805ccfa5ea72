import Libvirt
import Locking

/// The one thread that moves every open serial console's bytes, however many sessions are
/// open: each session's non-blocking `virDomainOpenConsole` stream is fed by libvirt's event
/// loop, which offers no descriptor to wait on, so the thread polls the streams in turn and
/// waits between rounds on a pipe that input, a new session and a close write to. While any
/// console had traffic in the last quarter second it waits 1 ms (an answer to what was just
/// typed is on its way), else 10 ms, and with no session at all until it is woken.
final class SerialConsolePump: Sendable {
    static let shared = SerialConsolePump()

    static let busyWait: Int32 = 1
    static let idleWait: Int32 = 10
    static let busyPeriod: Duration = .milliseconds(250)

    /// A session's stream and the connection it came from, handed to the pump's thread.
    ///
    /// `@unchecked Sendable`: `Connection` and `DataStream` are not `Sendable` because one
    /// owner must make every call. A `Line` is made on the thread that opened the console,
    /// which hands it to ``add(_:)`` as its last use of either; from then on only the pump's
    /// thread touches them, until it drops the line.
    final class Line: @unchecked Sendable {
        let session: SerialConsoleSession
        let stream: DataStream
        let connection: Connection

        init(session: SerialConsoleSession, stream: DataStream, connection: Connection) {
            self.session = session
            self.stream = stream
            self.connection = connection
        }
    }

    private let added = Mutex<[Line]>([])
    private let wakePipe = WakePipe()

    private init() {
        DetachedThread.start(name: "virthost-serial") { [self] in self.run() }
    }

    /// Takes over an opened console: from now on its bytes move on the pump's thread.
    func add(_ line: Line) {
        added.withLock { $0.append(line) }
        wake()
    }

    /// Has the pump look at every session now (input arrived, or a session closed).
    func wake() { wakePipe.wake() }

    private func run() {
        var lines: [Line] = []
        var lastActivity = ContinuousClock.now - Self.busyPeriod
        while true {
            lines += added.withLock { added in
                defer { added = [] }
                return added
            }
            var active = false
            lines.removeAll { line in
                switch line.session.move(line.stream) {
                case .active:
                    active = true
                    return false
                case .idle:
                    return false
                case .ended:
                    line.stream.abort()
                    line.session.finishOutput()
                    return true
                }
            }
            let now = ContinuousClock.now
            if active {
                lastActivity = now
                continue
            }
            let wait = lines.isEmpty ? -1 : (now - lastActivity < Self.busyPeriod ? Self.busyWait : Self.idleWait)
            wakePipe.wait(timeoutMilliseconds: wait)
        }
    }
}
