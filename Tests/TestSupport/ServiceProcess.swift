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

    private let process: Process
    private let output = Output()
    public let port: UInt16

    public var pid: Int32 { process.processIdentifier }
    public var log: [String] { output.lines.withLock { $0 } }

    /// Starts `virthostd` with `arguments` and waits for its `listening on` line.
    public init(arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(20)) throws {
        let executable = Self.executable
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw Failure(description: "\(executable.path) is missing: run `swift build` before the tests")
        }
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VIRTHOST_") }
        env.merge(environment) { $1 }
        process.environment = env
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()

        let reader = pipe.fileHandleForReading
        let output = output
        Thread {
            var pending = Data()
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    output.lines.withLock { $0.append(line) }
                    if let range = line.range(of: "listening on http://") ?? line.range(of: "listening on https://"),
                       let colon = line[range.upperBound...].lastIndex(of: ":"),
                       let port = UInt16(line[line.index(after: colon)...].prefix(while: \.isNumber)) {
                        output.port.withLock { $0 = port }
                    }
                }
            }
        }.start()

        let deadline = ContinuousClock.now + timeout
        while output.port.withLock({ $0 }) == nil {
            guard process.isRunning, ContinuousClock.now < deadline else {
                if process.isRunning { process.terminate() }
                throw Failure(description: "virthostd did not start: \(output.lines.withLock { $0 }.joined(separator: "\n"))")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        port = output.port.withLock { $0 } ?? 0
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Sends `signal` and waits for the exit; returns the exit status, or nil on time-out.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) -> Int32? {
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return process.terminationStatus
    }

    /// Whether some log line contains `text`, waiting up to `timeout` for it.
    public func waitForLog(_ text: String, timeout: Duration = .seconds(5)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(where: { $0.contains(text) }) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}

/// Runs a command and returns its standard output; throws when it exits non-zero.
///
/// Output goes through temporary files, not pipes: any other child process started meanwhile
/// (a `virthostd` of another test, a daemon) inherits open descriptors, and a pipe one of them
/// holds would never reach its end. The call waits for the command's exit only.
public func run(_ command: String, _ arguments: [String]) throws -> String {
    let directory = FileManager.default.temporaryDirectory
    let outputURL = directory.appendingPathComponent("run-\(UUID().uuidString).out")
    let errorURL = directory.appendingPathComponent("run-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outputURL)
        try? FileManager.default.removeItem(at: errorURL)
    }
    let output = try FileHandle(forWritingTo: outputURL)
    let errors = try FileHandle(forWritingTo: errorURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [command] + arguments
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    try process.run()
    try? output.close()
    try? errors.close()
    process.waitUntilExit()
    let data = (try? Data(contentsOf: outputURL)) ?? Data()
    guard process.terminationStatus == 0 else {
        let errorData = (try? Data(contentsOf: errorURL)) ?? Data()
        throw ServiceProcess.Failure(description: "\(command) \(arguments.joined(separator: " ")) failed: "
                                     + String(decoding: errorData, as: UTF8.self))
    }
    return String(decoding: data, as: UTF8.self)
}
