import Foundation
@testable import GuestConfig
import Testing
import TestSupport

/// Disk paths against the allowed roots on a real directory tree: every way out (`..`,
/// links, dangling links, prefixes, odd spellings and encodings) is refused, and every way of
/// staying inside is accepted.
@Suite(.paced) struct DiskPathTests {
    static func policy(_ fixture: DiskPathFixture) -> ValidationPolicy {
        ValidationPolicy(allowedDiskRoots: [fixture.root, fixture.nfcRoot])
    }

    @Test func everyWayOutOfTheRootIsRefused() throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        let policy = Self.policy(fixture)
        for (name, path, reason) in fixture.refused {
            let refusal = policy.refusal(of: path)
            #expect(refusal?.contains(reason) == true, "\(name): \(path.debugDescription) gave \(refusal ?? "no refusal")")
        }
    }

    @Test func pathsThatStayInsideAreAccepted() throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        let policy = Self.policy(fixture)
        for (name, path) in fixture.accepted {
            #expect(policy.refusal(of: path) == nil, "\(name): \(path.debugDescription)")
        }
    }

    @Test func resolutionFollowsLinksTheWayTheKernelWould() throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        #expect(try ValidationPolicy.realPath(fixture.root + "/dangling") == fixture.base + "/outside/later.qcow2")
        #expect(try ValidationPolicy.realPath(fixture.root + "/outdir/a/b") == fixture.base + "/outside/a/b")
        #expect(try ValidationPolicy.realPath(fixture.root + "/subdir/new.qcow2") == fixture.root + "/sub/new.qcow2")
        #expect(try ValidationPolicy.realPath(fixture.root + "/%2e%2e/x") == fixture.root + "/%2e%2e/x")
        #expect(throws: ValidationPolicy.Unresolvable.self) { try ValidationPolicy.realPath(fixture.root + "/loop") }
    }

    @Test func aRootGivenThroughALinkIsResolvedToo() throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        try FileManager.default.createSymbolicLink(atPath: fixture.base + "/root-link", withDestinationPath: "images")
        let policy = ValidationPolicy(allowedDiskRoots: [fixture.base + "/root-link"])
        #expect(policy.refusal(of: fixture.root + "/disk.qcow2") == nil)
        #expect(policy.refusal(of: fixture.base + "/root-link/sub/disk.qcow2") == nil)
        #expect(policy.refusal(of: fixture.base + "/root-link/escape/passwd")?.contains("resolves to /etc/passwd") == true)
    }

    /// Every path as a disk of one spec: exactly the refused ones have a field error, at
    /// their own pointer.
    @Test func eachRefusalPointsAtItsDisk() throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        let paths = fixture.refused.map(\.path) + fixture.accepted.map(\.path)
        let spec: [String: Any] = [
            "name": "paths", "memory_mb": 64,
            "disks": paths.map { ["source": $0] },
            "storage": ["root": ["source": fixture.root + "/escape/passwd"]],
            "os": ["kernel": fixture.root + "/../vmlinuz", "initrd": fixture.root + "/inside"],
        ]
        let errors = Self.errors(try JSONSerialization.data(withJSONObject: spec), policy: Self.policy(fixture))
        let expected = Set(fixture.refused.indices.map { "/disks/\($0)/source" } + ["/storage/root/source", "/os/kernel"])
        #expect(Set(errors.map(\.pointer)) == expected)
    }

    /// Spellings the JSON layer decodes: an escaped `..` is still `..`; bytes that are not
    /// UTF-8 (an overlong `.` or `/`) are refused, not repaired into another name; `\u0000`
    /// is a control character; `\/` is just a slash.
    @Test func encodingsAreDecodedOnceAndChecked() throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        let root = fixture.root
        var body = Array(#"{"name":"enc","memory_mb":64,"disks":["#.utf8)
        body += Array(#"{"source":"\#(root)/\u002e\u002e/outside/x"},"#.utf8)
        body += Array(#"{"source":"\#(root)/"#.utf8) + [0xC0, 0xAE, 0xC0, 0xAE, 0xC0, 0xAF] + Array(#"etc/passwd"},"#.utf8)
        body += Array(#"{"source":"\#(root)/disk.qcow2\u0000"},"#.utf8)
        body += Array(#"{"source":"\#(root.replacingOccurrences(of: "/", with: "\\/"))\/disk.qcow2"}]}"#.utf8)
        let errors = Self.errors(Data(body), policy: Self.policy(fixture))
        func details(_ index: Int) -> [String] { errors.filter { $0.pointer == "/disks/\(index)/source" }.map(\.detail) }
        #expect(details(0) == ["must not contain .."])
        #expect(details(1) == ["must be valid UTF-8"])
        #expect(details(2).contains("must not contain control characters, U+FFFE or U+FFFF"))
        #expect(details(3).isEmpty)
        #expect(errors.count == 1 + 1 + details(2).count, "\(errors)")
    }

    static func errors(_ json: Data, policy: ValidationPolicy) -> [FieldError] {
        let (spec, readErrors) = GuestSpec.read(json: json)
        guard let spec else { return readErrors }
        do {
            _ = try GuestDefinition(spec, policy: policy, readErrors: readErrors)
            return []
        } catch {
            return error.errors
        }
    }
}
