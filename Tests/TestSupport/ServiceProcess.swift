import Foundation
import Locking

/// `virthostd` run as a child process, the way an operator runs it: the test reads its log
/// from stderr, finds the port in the `listening on` line, and stops it with a signal.
public final class ServiceProcess: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The built executable beside the test bundle (`swift build` puts both in one folder).
    public static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("virthostd")
    }

    /// What the reader thread collects from stderr.
    private final class Output: Sendable {
        let lines = Mutex<[String]>([])
        let port = Mutex<UInt16?>(nil)
    }

    private let process: ChildProcess
    private let output = Output()
    public let port: UInt16

    public var pid: Int32 { process.pid }
    public var log: [String] { output.lines.withLock { $0 } }
    /// nil while it runs; then its exit code, or the number of the signal that ended it.
    public var exitStatus: Int32? { process.exitStatus }

    /// Starts `virthostd` with `arguments` and waits for its `listening on` line. With a
    /// `wrapper` (`nsenter -t PID -m -n --`), that command runs it.
    public init(arguments: [String], environment: [String: String] = [:], wrapper: [String] = [],
                timeout: Duration = .seconds(20)) throws {
        let executable = Self.executable
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw Failure(description: "\(executable.path) is missing: run `swift build` before the tests")
        }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VIRTHOST_") }
        env.merge(environment) { $1 }
        let command = wrapper + [executable.path] + arguments
        let process = try ChildProcess(command[0], Array(command.dropFirst()), environment: env, stderr: .pipe)
        self.process = process

        let output = output
        Thread {
            process.forEachLine { line in
                output.lines.withLock { $0.append(line) }
                if let range = line.range(of: "listening on http://") ?? line.range(of: "listening on https://"),
                   let colon = line[range.upperBound...].lastIndex(of: ":"),
                   let port = UInt16(line[line.index(after: colon)...].prefix(while: \.isNumber)) {
                    output.port.withLock { $0 = port }
                }
            }
        }.start()

        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while output.port.withLock({ $0 }) == nil {
            guard process.isRunning, ContinuousClock.now < deadline else {
                process.signal(SIGKILL)
                throw Failure(description: "virthostd did not start: \(output.lines.withLock { $0 }.joined(separator: "\n"))")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        port = output.port.withLock { $0 } ?? 0
    }

    deinit {
        process.signal(SIGKILL)
    }

    /// Sends `signal` and waits for the exit; returns the exit status, or nil on time-out.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) -> Int32? {
        process.signal(signal)
        return process.waitForExit(timeout: TestTiming.scaled(timeout))
    }

    /// Whether some log line contains `text`, waiting up to `timeout` for it.
    public func waitForLog(_ text: String, timeout: Duration = .seconds(5)) -> Bool {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while ContinuousClock.now < deadline {
            if log.contains(where: { $0.contains(text) }) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}

/// Runs a command and returns its standard output; throws when it exits non-zero.
///
/// Output goes through temporary files, not pipes, so a command that leaves a daemon behind
/// (which keeps the descriptors) does not keep the caller waiting: it waits for the exit only.
public func run(_ command: String, _ arguments: [String]) throws -> String {
    let directory = FileManager.default.temporaryDirectory
    let outputPath = directory.appendingPathComponent("run-\(UUID().uuidString).out").path
    let errorPath = directory.appendingPathComponent("run-\(UUID().uuidString).err").path
    defer {
        try? FileManager.default.removeItem(atPath: outputPath)
        try? FileManager.default.removeItem(atPath: errorPath)
    }
    let process = try ChildProcess(command, arguments, stdout: .file(outputPath), stderr: .file(errorPath))
    let status = process.waitForExit(timeout: .seconds(600))
    let output = (try? Data(contentsOf: URL(fileURLWithPath: outputPath))) ?? Data()
    guard status == 0 else {
        let errors = (try? Data(contentsOf: URL(fileURLWithPath: errorPath))) ?? Data()
        throw ServiceProcess.Failure(description: "\(command) \(arguments.joined(separator: " ")) failed"
                                     + (status.map { " (\($0))" } ?? " (still running after 600 s)") + ": "
                                     + String(decoding: errors, as: UTF8.self))
    }
    return String(decoding: output, as: UTF8.self)
}
