import Foundation
import Testing
import TestSupport
@testable import VirtHost

/// First-boot ISO images, made with genisoimage and read back with isoinfo (both from Debian's
/// genisoimage package, which the project's test command installs: missing, they fail the tests).
@Suite(.paced) struct ISOImageTests {
    /// A directory of the test's own, removed at the end.
    final class Scratch {
        let path: String
        init() throws {
            var template = Array((NSTemporaryDirectory() + "/iso-test-XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else { throw Failure(description: "mkdtemp: \(errno)") }
            path = String(cString: made)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["(unreadable)"] }

        /// A shell script made executable, as a stand-in for the tool.
        func script(_ name: String, _ body: String) throws -> String {
            let path = self.path + "/" + name
            try Data("#!/bin/sh\n\(body)\n".utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o755)
            return path
        }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The tool's path on PATH; a missing one fails the test rather than skipping it.
    static func required(_ tool: String) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            Issue.record("\(tool) is not installed (apt-get install genisoimage): the ISO image tests need it")
            throw Failure(description: "\(tool) missing")
        }
        return path
    }

    /// Runs isoinfo on `image` and returns its standard output's bytes.
    static func isoinfo(_ arguments: [String], image: [UInt8], in scratch: Scratch) throws -> [UInt8] {
        let isoinfo = try required("isoinfo")
        let imagePath = scratch.path + "/image.iso", outputPath = scratch.path + "/isoinfo.out"
        try Data(image).write(to: URL(fileURLWithPath: imagePath))
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: imagePath)
            try? FileManager.default.removeItem(atPath: outputPath)
        }
        let process = try ChildProcess(isoinfo, arguments + ["-i", imagePath], stdout: .file(outputPath))
        guard process.waitForExit(timeout: .seconds(30)) == 0 else { throw Failure(description: "isoinfo \(arguments) failed") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: outputPath)))
    }

    static func volumeID(_ image: [UInt8], in scratch: Scratch) throws -> String? {
        let description = String(decoding: try isoinfo(["-d"], image: image, in: scratch), as: UTF8.self)
        return description.split(separator: "\n").first { $0.hasPrefix("Volume id: ") }.map { String($0.dropFirst("Volume id: ".count)) }
    }

    /// Every file of `files` read back through Rock Ridge and through Joliet, byte for byte, and
    /// nothing else in the image.
    static func expectRoundTrip(_ files: [(path: String, content: [UInt8])], label: String) async throws {
        let scratch = try Scratch()
        _ = try required("genisoimage")
        let image = try await ISOImage(configuration: .init(temporaryDirectory: scratch.path)).make(label: label, files: files)
        #expect(scratch.contents.isEmpty, "the private directory is removed")
        #expect(try volumeID(image, in: scratch) == label)
        for extension_ in ["-R", "-J"] {
            for file in files {
                let read = try isoinfo([extension_, "-x", "/" + file.path], image: image, in: scratch)
                #expect(read == file.content, "\(file.path) through \(extension_)")
            }
            let listed = String(decoding: try isoinfo([extension_, "-f"], image: image, in: scratch), as: UTF8.self)
            let names = Set(listed.split(separator: "\n").map { String($0.dropFirst()) })
            var expected = Set(files.map(\.path))
            for file in files {
                var components = file.path.split(separator: "/").dropLast()
                while !components.isEmpty { expected.insert(components.joined(separator: "/")); components = components.dropLast() }
            }
            #expect(names == expected, "names through \(extension_)")
        }
    }

    static let allBytes = (0...255).map(UInt8.init) + (0...255).reversed().map(UInt8.init)

    @Test func aNoCloudImageHoldsItsFilesByteForByte() async throws {
        try await Self.expectRoundTrip([
            ("user-data", Array("#cloud-config\nhostname: h\u{E9}te-\u{2603}\nwrite_files: [{path: /x, content: \"\u{4E16}\u{754C}\"}]\n".utf8)),
            ("meta-data", Array("instance-id: iid-1\nlocal-hostname: guest\n".utf8)),
            ("network-config", Self.allBytes),
        ], label: "cidata")
    }

    @Test func aConfigDriveImageHoldsItsNestedFiles() async throws {
        try await Self.expectRoundTrip([
            ("openstack/latest/meta_data.json", Array(#"{"uuid": "d8e02d56", "name": "guest"}"#.utf8)),
            ("openstack/2012-08-10/user_data", Self.allBytes),
            ("openstack/latest/user_data", []),
            (".dotted.name.v2", Array("x".utf8)),
        ], label: "config-2")
    }

    @Test func theLabelKeepsItsCase() async throws {
        try await Self.expectRoundTrip([("meta-data", Array("a".utf8))], label: "MixedCase_Label-1234567890123456")
    }

    @Test(arguments: ["", "has space", "ci.data", "a/b", "x\0y", "d\u{E4}t\u{E4}", String(repeating: "a", count: 33)])
    func anInvalidLabelIsRefusedBeforeAnythingIsWritten(label: String) async throws {
        let scratch = try Scratch()
        await #expect(throws: ISOImageError.invalidLabel(label)) {
            try await ISOImage(configuration: .init(temporaryDirectory: scratch.path)).make(label: label, files: [("meta-data", [1])])
        }
        #expect(scratch.contents.isEmpty)
    }

    @Test(arguments: [
        ["../x"], ["/etc/passwd"], ["a//b"], ["a/./b"], [""], ["a\0b"], [String(repeating: "n", count: 300)],
        [".."], ["."], ["a/"], ["a/../../b"], ["sp ace"], ["\u{FC}ber"], ["a\\b"], ["a/b/c/d/e/f/g"],
        ["meta-data", "meta-data"], ["a", "a/b"], ["a/b", "a"],
    ])
    func aHostilePathIsRefusedAndNothingIsWritten(paths: [String]) async throws {
        let scratch = try Scratch()
        // A good file first: nothing at all may be written when a later one is bad.
        let files = [("user-data", [UInt8](repeating: 7, count: 10))] + paths.map { ($0, [UInt8]([1, 2, 3])) }
        await #expect {
            try await ISOImage(configuration: .init(temporaryDirectory: scratch.path)).make(label: "cidata", files: files)
        } throws: { error in
            guard case .invalidPath = error as? ISOImageError else { return false }
            return true
        }
        #expect(scratch.contents.isEmpty)
    }

    @Test(arguments: ["/nonexistent/genisoimage", "no-such-iso-tool-anywhere"])
    func aMissingToolIsNamedInTheError(tool: String) async throws {
        let scratch = try Scratch()
        let error = await #expect(throws: ISOImageError.toolMissing(tool)) {
            try await ISOImage(configuration: .init(tool: tool, temporaryDirectory: scratch.path)).make(label: "cidata", files: [("meta-data", [1])])
        }
        #expect(error?.description.contains(tool) == true)
        #expect(scratch.contents.isEmpty)
    }

    @Test func aTimeoutThatIsNotPositiveIsRefused() async throws {
        let scratch = try Scratch()
        await #expect(throws: ISOImageError.invalidConfiguration("the timeout must be positive")) {
            try await ISOImage(configuration: .init(timeout: .zero, temporaryDirectory: scratch.path)).make(label: "cidata", files: [("meta-data", [1])])
        }
        #expect(scratch.contents.isEmpty)
    }

    @Test func aToolRunningPastTheTimeoutIsKilledWithWhatItStarted() async throws {
        let scratch = try Scratch(), temporary = try Scratch()
        // The shell's own child holds standard error too: only killing the group ends it.
        let tool = try scratch.script("slow", "echo $$ > \(scratch.path)/shell.pid\nsleep 30 &\necho $! > \(scratch.path)/sleep.pid\nwait")
        let image = ISOImage(configuration: .init(tool: tool, timeout: .seconds(1), temporaryDirectory: temporary.path))
        let start = ContinuousClock.now
        await #expect(throws: ISOImageError.timedOut(after: .seconds(1))) {
            try await image.make(label: "cidata", files: [("meta-data", [1])])
        }
        let elapsed = ContinuousClock.now - start
        // Killed well before its own 30 s: the bound leaves room for the moment every suite
        // starts at once on two cores (a cancellation took 10.5 s then, under a second alone).
        #expect(elapsed >= .seconds(1) && elapsed < Self.killedBound, "took \(elapsed)")
        #expect(temporary.contents.isEmpty)
        try Self.expectGone(pidFiles: ["shell.pid", "sleep.pid"], in: scratch)
    }

    @Test func cancellingKillsTheTool() async throws {
        let scratch = try Scratch(), temporary = try Scratch()
        let tool = try scratch.script("slow", "echo $$ > \(scratch.path)/shell.pid\nsleep 30 &\necho $! > \(scratch.path)/sleep.pid\nwait")
        let image = ISOImage(configuration: .init(tool: tool, timeout: .seconds(60), temporaryDirectory: temporary.path))
        let start = ContinuousClock.now
        let task = Task { try await image.make(label: "cidata", files: [("meta-data", [1])]) }
        try await Task.sleep(for: .milliseconds(500))
        task.cancel()
        let result = await task.result
        #expect(throws: ISOImageError.cancelled) { try result.get() }
        #expect(ContinuousClock.now - start < Self.killedBound, "took \(ContinuousClock.now - start)")
        #expect(temporary.contents.isEmpty)
        try Self.expectGone(pidFiles: ["shell.pid", "sleep.pid"], in: scratch)
    }

    /// How soon a tool that would sleep 30 s must be gone once killed: under its 30 s whatever
    /// the load, so a tool left running still fails the test.
    static let killedBound: Duration = .seconds(25)

    /// The processes whose IDs the script wrote are gone, not zombies: the shell was reaped by
    /// `make`, its orphaned child by init (given a moment).
    static func expectGone(pidFiles: [String], in scratch: Scratch) throws {
        for file in pidFiles {
            let text = try String(contentsOfFile: scratch.path + "/" + file, encoding: .utf8)
            let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            let deadline = ContinuousClock.now + .seconds(3)
            while kill(pid, 0) == 0 && ContinuousClock.now < deadline { usleep(10_000) }
            #expect(kill(pid, 0) != 0 && errno == ESRCH, "process \(pid) of \(file) is still there")
        }
    }

    @Test func aFailingToolGivesItsStatusAndWhatItSaid() async throws {
        let scratch = try Scratch(), temporary = try Scratch()
        let tool = try scratch.script("failing", "echo '  genisoimage: no good  ' >&2\nexit 3")
        await #expect(throws: ISOImageError.toolFailed(status: 3, standardError: "genisoimage: no good")) {
            try await ISOImage(configuration: .init(tool: tool, temporaryDirectory: temporary.path)).make(label: "cidata", files: [("meta-data", [1])])
        }
        #expect(temporary.contents.isEmpty)
    }

    @Test func aToolsLongComplaintIsCutAndDoesNotBlockIt() async throws {
        let scratch = try Scratch(), temporary = try Scratch()
        // 1 MiB on standard error, far past a pipe's buffer: the tool finishes only if it is read.
        let tool = try scratch.script("chatty", "head -c 1048576 /dev/zero | tr '\\0' x >&2\nexit 1")
        let error = await #expect(throws: ISOImageError.self) {
            try await ISOImage(configuration: .init(tool: tool, timeout: .seconds(20), temporaryDirectory: temporary.path)).make(label: "cidata", files: [("meta-data", [1])])
        }
        guard case .toolFailed(let status, let standardError) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(status == 1)
        #expect(standardError.utf8.count == ISOImage.standardErrorLimit && standardError.allSatisfy { $0 == "x" })
        #expect(temporary.contents.isEmpty)
    }

    @Test func severalImagesAtOnce() async throws {
        _ = try Self.required("genisoimage")
        let scratch = try Scratch()
        let maker = ISOImage(configuration: .init(temporaryDirectory: scratch.path))
        let images = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in 0..<6 {
                group.addTask { (index, try await maker.make(label: "cidata\(index)", files: [("meta-data", Array("instance-id: \(index)\n".utf8))])) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for (index, image) in images {
            #expect(try Self.volumeID(image, in: scratch) == "cidata\(index)")
            #expect(try Self.isoinfo(["-R", "-x", "/meta-data"], image: image, in: scratch) == Array("instance-id: \(index)\n".utf8))
        }
        #expect(images.count == 6)
    }
}
