import FoundationEssentials
import Glibc
import Subprocess

/// Makes ISO 9660 images (Joliet and Rock Ridge) of a few small files with genisoimage, as Nova
/// does, for the first-boot disks: cloud-init's NoCloud (label `cidata`) and OpenStack's config
/// drive (label `config-2`).
///
/// The files are written into a private directory (mkdtemp, 0700) that is removed whatever
/// happens; the tool runs from there with an argument vector (never a shell), in a process group
/// of its own so that a time limit kills all it started, and is reaped before `make` returns.
public struct ISOImage: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// An absolute path, or a name looked up on `PATH`.
        public var tool: String
        public var timeout: Duration
        /// Where the private directory is made.
        public var temporaryDirectory: String
        /// The tool's `PATH` (where a tool given by name is looked up); virthostd passes its own.
        public var searchPath: String

        public init(tool: String = "genisoimage", timeout: Duration = .seconds(30), temporaryDirectory: String = "/tmp",
                    searchPath: String = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") {
            self.tool = tool
            self.timeout = timeout
            self.temporaryDirectory = temporaryDirectory
            self.searchPath = searchPath
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// The volume ID field's size.
    static let maximumLabelLength = 32
    /// Joliet's limit, so Joliet and Rock Ridge both keep the whole name.
    static let maximumComponentLength = 64
    /// ISO 9660 nests directories 8 deep; well inside that.
    static let maximumComponents = 6
    /// Enough of the tool's complaint to say what went wrong.
    static let standardErrorLimit = 4096

    /// Makes the image of `files`, whose paths are relative, such as "user-data" or
    /// "openstack/latest/meta_data.json": components of letters, digits, '.', '_' and '-', not
    /// "." or "..". `label` is 1–32 of letters, digits, '_' and '-', kept in its case.
    /// Returns the image's bytes.
    public func make(label: String, files: [(path: String, content: [UInt8])]) async throws(ISOImageError) -> [UInt8] {
        try Self.validate(label: label)
        let components = try Self.validate(paths: files.map(\.path))
        // Checked before anything is written, so a bad configuration leaves nothing behind.
        guard configuration.timeout > .zero else { throw .invalidConfiguration("the timeout must be positive") }

        let directory = try Self.makePrivateDirectory(in: configuration.temporaryDirectory)
        let outcome: Result<[UInt8], ISOImageError>
        do {
            let root = directory + "/files"
            try Self.makeDirectory(root)
            for (file, path) in zip(files, components) {
                try Self.write(file.content, to: path, under: root)
            }
            let image = directory + "/image.iso"
            try await run(label: label, root: root, image: image, directory: directory)
            outcome = .success(try Self.read(image))
        } catch {
            outcome = .failure(error)
        }
        // Removed even after success: user-data may hold secrets, and an image nobody can clean
        // up is a failure too.
        do {
            try FileManager.default.removeItem(atPath: directory)
        } catch {
            if case .success = outcome { throw .io("removing \(directory): \(error)") }
        }
        return try outcome.get()
    }

    // MARK: - Validation

    static func validate(label: String) throws(ISOImageError) {
        let bytes = Array(label.utf8)
        guard (1...maximumLabelLength).contains(bytes.count),
              bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
        else { throw .invalidLabel(label) }
    }

    /// Each path's components; refuses names outside the character set, "." and "..", empty
    /// components (so no leading, trailing or doubled '/'), duplicates, and a file that another
    /// path needs as a directory.
    static func validate(paths: [String]) throws(ISOImageError) -> [[String]] {
        var files = Set<[String]>()
        var directories = Set<[String]>()
        var result: [[String]] = []
        for path in paths {
            let components = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            guard (1...maximumComponents).contains(components.count),
                  components.allSatisfy(isValidComponent)
            else { throw .invalidPath(path) }
            let names = components.map { String(decoding: $0, as: UTF8.self) }
            guard files.insert(names).inserted else { throw .invalidPath(path) }
            for depth in 1..<names.count { directories.insert(Array(names[..<depth])) }
            result.append(names)
        }
        if let clash = files.first(where: directories.contains) { throw .invalidPath(clash.joined(separator: "/")) }
        return result
    }

    private static func isValidComponent(_ name: Substring.UTF8View.SubSequence) -> Bool {
        (1...maximumComponentLength).contains(name.count)
            && !name.elementsEqual(".".utf8) && !name.elementsEqual("..".utf8)
            && name.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    // MARK: - Files

    private static func makePrivateDirectory(in parent: String) throws(ISOImageError) -> String {
        var template = Array((parent + "/virthost-iso-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw .io("making a directory in \(parent): \(errorText())") }
        return String(cString: made)
    }

    private static func makeDirectory(_ path: String) throws(ISOImageError) {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw .io("making \(path): \(errorText())") }
    }

    /// Creates the file and its directories; never follows a link nor reuses a file.
    private static func write(_ content: [UInt8], to components: [String], under root: String) throws(ISOImageError) {
        var path = root
        for directory in components.dropLast() {
            path += "/" + directory
            try makeDirectory(path)
        }
        path += "/" + components[components.count - 1]
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .io("creating \(path): \(errorText())") }
        defer { close(descriptor) }
        var written = 0
        while written < content.count {
            let count = content.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw .io("writing \(path): \(errorText())") }
            written += count
        }
    }

    private static func read(_ path: String) throws(ISOImageError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io("opening \(path): \(errorText())") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .io("reading \(path): \(errorText())") }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }

    // MARK: - The tool

    private enum Event: Sendable {
        case standardError([UInt8])
        case deadlinePassed
        case timerStopped
    }

    private func run(label: String, root: String, image: String, directory: String) async throws(ISOImageError) {
        let tool = configuration.tool
        let timeout = configuration.timeout
        // `.init` is swift-system's FilePath, which Subprocess takes but does not re-export.
        let executable: Executable = tool.contains("/") ? .path(.init(tool)) : .name(tool)
        // Nova's flags: Joliet and Rock Ridge (-r: readable, owned by root) carry the exact names;
        // the ISO 9660 names keep case and dots too, for readers of the plain directory.
        let arguments = [
            "-quiet", "-output", image, "-volid", label, "-joliet", "-rock", "-input-charset", "utf-8",
            "-ldots", "-allow-lowercase", "-allow-multidot", "-full-iso9660-filenames", root,
        ]
        // HOME and the working directory are the private directory, so no .genisoimagerc but
        // /etc's is read.
        let environment = Environment.custom([
            "PATH": configuration.searchPath,
            "HOME": directory,
            "LC_ALL": "C.UTF-8",
        ])
        var options = PlatformOptions()
        options.processGroupID = 0

        let result: ExecutionResult<(standardError: [UInt8], timedOut: Bool), DiscardedOutput, SequenceOutput>
        do {
            result = try await Subprocess.run(
                executable, arguments: Arguments(arguments), environment: environment,
                workingDirectory: .init(directory), platformOptions: options,
                input: .none, output: .discarded, error: .sequence
            ) { execution in
                // The tool is done when its standard error ends: Subprocess ends the stream when
                // the tool exits (and one that closed it early is killed, which genisoimage never
                // does). Subprocess reaps the tool only after this closure returns, so until then
                // its ID still names its process group and killing that group cannot hit another's.
                try await withThrowingTaskGroup(of: Event.self) { group in
                    group.addTask { .standardError(try await Self.collect(execution.standardError)) }
                    group.addTask {
                        do {
                            try await Task.sleep(for: timeout)
                        } catch {
                            // Stopped once the tool is done, or the caller cancelled: either way
                            // whatever of its group is left goes (Subprocess's own teardown
                            // kills the tool only, not what it started).
                            try? execution.send(signal: .kill, toProcessGroup: true)
                            return .timerStopped
                        }
                        try? execution.send(signal: .kill, toProcessGroup: true)
                        return .deadlinePassed
                    }
                    var standardError: [UInt8] = []
                    var timedOut = false
                    while let event = try await group.next() {
                        switch event {
                        case .standardError(let bytes):
                            standardError = bytes
                            group.cancelAll()
                        case .deadlinePassed: timedOut = true
                        case .timerStopped: break
                        }
                    }
                    try Task.checkCancellation()
                    return (standardError, timedOut)
                }
            }
        } catch let error as SubprocessError where error.code == .executableNotFound {
            throw .toolMissing(tool)
        } catch where error is CancellationError || Task.isCancelled {
            throw .cancelled
        } catch {
            throw .io("running \(tool): \(error)")
        }

        if result.closureResult.timedOut { throw .timedOut(after: timeout) }
        let isSpace = { (byte: UInt8) in byte == 0x20 || (0x09...0x0D).contains(byte) }
        let said = result.closureResult.standardError
        let standardError = String(decoding: said.drop(while: isSpace).reversed().drop(while: isSpace).reversed(), as: UTF8.self)
        switch result.terminationStatus {
        case .exited(0): return
        case .exited(let status): throw .toolFailed(status: status, standardError: standardError)
        case .signaled(let signal): throw .toolFailed(status: 128 + signal, standardError: standardError)
        }
    }

    /// The first `standardErrorLimit` bytes; the rest is read and dropped so the tool never blocks.
    private static func collect(_ stream: SubprocessOutputSequence) async throws -> [UInt8] {
        var kept: [UInt8] = []
        for try await chunk in stream {
            guard kept.count < standardErrorLimit else { continue }
            chunk.withUnsafeBytes { kept += $0.prefix(standardErrorLimit - kept.count) }
        }
        return kept
    }
}

public enum ISOImageError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidLabel(String)
    case invalidPath(String)
    case invalidConfiguration(String)
    /// The tool is not on `PATH`, or not an executable file at its path.
    case toolMissing(String)
    /// It exited with `status` (128 + the signal's number when a signal ended it); `standardError`
    /// is the start of what it said, trimmed.
    case toolFailed(status: Int32, standardError: String)
    /// It ran longer than the configured timeout, and was killed.
    case timedOut(after: Duration)
    /// The calling task was cancelled; the tool was killed.
    case cancelled
    case io(String)

    public var description: String {
        switch self {
        case .invalidLabel(let label): "an ISO label is 1 to 32 of A-Z, a-z, 0-9, '_' and '-', not \(String(reflecting: label))"
        case .invalidPath(let path): "\(String(reflecting: path)) is not a file path for an ISO image: relative, at most 6 components of 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-', not '.' or '..', each path once"
        case .invalidConfiguration(let why): "the ISO image configuration is wrong: \(why)"
        case .toolMissing(let tool): "the ISO image tool \(tool) is not installed (or not executable)"
        case .toolFailed(let status, let standardError): "the ISO image tool failed with status \(status)" + (standardError.isEmpty ? "" : ": \(standardError)")
        case .timedOut(let timeout): "the ISO image tool ran longer than \(timeout) and was killed"
        case .cancelled: "making the ISO image was cancelled"
        case .io(let what): "making the ISO image: \(what)"
        }
    }
}
