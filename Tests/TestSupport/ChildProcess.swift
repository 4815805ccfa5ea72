import Foundation
import Locking

/// A child process started with `posix_spawn`, for the tests' own spawning.
///
/// Not Foundation's `Process`: with the descriptor-heavy suites running beside it, the test
/// process holds well over 1,024 descriptors, and `Process.run()` then crashed in a `memmove`;
/// its `FileHandle` reads also trap on `EINTR`. Here every read retries `EINTR`, the child
/// inherits nothing but its three standard streams, and exit is observed with `waitpid`.
public final class ChildProcess: Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        case null
        /// Appended to the file at this path.
        case file(String)
        /// Into a pipe the parent reads with ``readAll()`` or line by line with ``onLine``.
        case pipe
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let pid: pid_t
    /// The read end of the pipe for `.pipe` output, or -1.
    private let pipeDescriptor: Int32
    /// The raw `waitpid` status once the child has been reaped.
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `executable` (a path, or a name looked up in `PATH`).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                stdout: Stream = .null, stderr: Stream = .null) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        var pipeEnds: [Int32] = [-1, -1]
        if case .pipe = stdout { pipeEnds = try Self.makePipe() } else if case .pipe = stderr { pipeEnds = try Self.makePipe() }
        for (target, stream) in [(Int32(1), stdout), (Int32(2), stderr)] {
            switch stream {
            case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .file(let path): posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            case .pipe: posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], target)
            }
        }
        Self.closeInheritedDescriptors(&actions)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environmentStrings = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp = environmentStrings.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        var child: pid_t = 0
        let status = executable.contains("/")
            ? posix_spawn(&child, executable, &actions, nil, argv, envp)
            : posix_spawnp(&child, executable, &actions, nil, argv, envp)
        if pipeEnds[1] >= 0 { close(pipeEnds[1]) }
        guard status == 0 else {
            if pipeEnds[0] >= 0 { close(pipeEnds[0]) }
            throw Failure(description: "spawning \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
        pipeDescriptor = pipeEnds[0]
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: .seconds(5))
        }
        if pipeDescriptor >= 0 { close(pipeDescriptor) }
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool { exitStatus == nil }

    /// The exit code, or the signal's number when a signal ended it (as Foundation reports it);
    /// nil while it runs.
    public var exitStatus: Int32? {
        reaped.withLock { reaped in
            if reaped == nil {
                var status: Int32 = 0
                var result: pid_t
                repeat { result = waitpid(pid, &status, WNOHANG) } while result < 0 && errno == EINTR
                if result == pid { reaped = status }
            }
            guard let status = reaped else { return nil }
            return status & 0x7F == 0 ? (status >> 8) & 0xFF : status & 0x7F
        }
    }

    /// Waits for the exit; returns ``exitStatus``, or nil when `timeout` passes first.
    public func waitForExit(timeout: Duration = .seconds(60)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus { return status }
            usleep(5_000)
        }
        return exitStatus
    }

    public func signal(_ signal: Int32) { if isRunning { kill(pid, signal) } }

    /// Calls `handle` for each line of the piped output, on the caller's thread, until the end.
    public func forEachLine(_ handle: (String) -> Void) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = read(pipeDescriptor, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            pending += chunk[0..<count]
            while let newline = pending.firstIndex(of: 0x0A) {
                handle(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { handle(String(decoding: pending, as: UTF8.self)) }
    }

    /// Everything the piped output holds until its end.
    public func readAll() -> String {
        var lines: [String] = []
        forEachLine { lines.append($0) }
        return lines.joined(separator: "\n")
    }

    private static func makePipe() throws -> [Int32] {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        // Close-on-exec, so no child spawned meanwhile keeps the write end and the reader its end.
        ends.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
        return ends
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module
    /// does not declare: the child must not inherit the test process's sockets, or a test
    /// waiting for a peer's close would wait on a copy held by some other test's child.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
    }
}
