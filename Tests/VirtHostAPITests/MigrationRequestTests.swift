import Foundation
import GuestConfig
import Testing
import TestSupport

/// A migration request read and checked: its defaults, every field error at once, and URIs
/// judged exactly as the OpenAPI document's patterns judge them (the service must refuse what
/// the document calls invalid and take what it calls valid).
@Suite(.paced) struct MigrationRequestTests {
    /// The `pattern` of a schema property or parameter the document names by its first words.
    static func pattern(startingWith prefix: String) throws -> NSRegularExpression {
        let text = try String(contentsOf: OpenAPIDocument.url, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("pattern: '\(prefix)") })
        let start = try #require(line.range(of: "pattern: '")).upperBound, end = try #require(line.lastIndex(of: "'"))
        return try NSRegularExpression(pattern: line[start..<end].replacingOccurrences(of: "''", with: "'"))
    }

    /// Whether the pattern matches all of `text`, as JSON Schema's (ECMA-262) regular
    /// expressions do: ICU's `$` would also match before a final newline.
    static func matches(_ expression: NSRegularExpression, _ text: String) -> Bool {
        let whole = NSRange(text.startIndex..., in: text)
        return expression.firstMatch(in: text, range: whole)?.range == whole
    }

    static let destinations = [
        "qemu+tcp://host-b/system", "qemu+tls://host-b.example.org:16514/system", "qemu+ssh://root@host-b/system",
        "qemu+ssh://root@[fd00::2]:22/system?keyfile=/root/.ssh/id&no_verify=1", "qemu://host-b/system",
        "qemu+unix:///system?socket=/run/b/libvirt-sock", "qemu+libssh2://u@h/system?known_hosts=/k",
        "qemu+ext://h/system?command=/bin/x", "xen+tcp://10.0.0.2/", "qemu+tcp://h:99999/system",
        // refused
        "", "qemu:///system", "qemu+tcp:///system", "qemu+tcp://host-b", "qemu+tcp://host-b?x=/system",
        "qemu+carrier://b/system", "qemu+TCP://b/system", "1qemu+tcp://b/system", "qemu+tcp+ssh://b/system",
        "qemu+tcp://b/system;reboot", "qemu+tcp://b/$(id)", "qemu+tcp://b/`id`", "qemu+tcp://b/sys tem",
        "qemu+tcp://b/system|x", "qemu+tcp://b/system&x", "qemu+tcp://b/~", "qemu+tcp://b/#x", "qemu+tcp://b/é",
        "qemu+tcp://b/\n", "host-b", "qemu+tcp:/b/system", "+tcp://b/system", "qemu+://b/system",
        "qemu+ssh://b/system?command=\"x\"", "qemu+tcp://b/system\\", "qemu+unix://host/system",
    ]

    @Test func destinationsAreJudgedAsTheDocumentsPatternJudgesThem() throws {
        let pattern = try Self.pattern(startingWith: "^[A-Za-z][A-Za-z0-9]*((")
        var generator = SystemRandomNumberGenerator()
        // The examples above, and strings made of the pieces URIs are made of.
        let pieces = ["qemu", "+tcp", "+unix", "+ssh", "://", ":", "/", "h", "b.c", "?", "=", "@", "[", "]", "9", ";", " ",
                      "+", "%", ",", "-", "_", "&", "'", "~"]
        let generated = (0..<3000).map { _ in (0..<Int.random(in: 1...8, using: &generator)).map { _ in
            pieces.randomElement(using: &generator)!
        }.joined() }
        for uri in Self.destinations + generated {
            let accepted = MigrationRequest.destinationRefusal(uri) == nil
            #expect(accepted == Self.matches(pattern, uri), "\(uri.debugDescription): service \(accepted ? "takes" : "refuses") it")
        }
        #expect(MigrationRequest.destinationRefusal("qemu+tcp://host-b/system") == nil)
        #expect(MigrationRequest.destinationRefusal("qemu:///system")?.contains("local libvirt") == true)
    }

    @Test func streamURIsAreJudgedAsTheDocumentsPatternJudgesThem() throws {
        let pattern = try Self.pattern(startingWith: "^(tcp://|tcp:|rdma://)")
        let examples = ["tcp://10.0.0.2", "tcp://10.0.0.2:49152", "tcp:host-b", "tcp://[fd00::2]:4444", "rdma://h",
                        "tcp://", "tcp:", "http://h", "tcp://h/x", "tcp://h;x", "unix:///tmp/s", "tcp:/h", "TCP://h", ""]
        for uri in examples {
            let accepted = MigrationRequest.streamURIRefusal(uri) == nil
            #expect(accepted == Self.matches(pattern, uri), "\(uri.debugDescription): service \(accepted ? "takes" : "refuses") it")
        }
    }

    @Test func aRequestHasLiveMigrationDefaultsAndEveryErrorAtOnce() throws {
        let plain = try MigrationRequest.read(json: Array(#"{"destination":"qemu+tcp://b/system"}"#.utf8))
        #expect(plain.live && plain.persistent && plain.undefineSource && plain.copyStorage == .none)
        #expect(!plain.postcopy && !plain.autoConverge && !plain.compressed && !plain.tls)
        #expect(plain.maxDowntimeMilliseconds == nil && plain.bandwidthMiBs == nil && plain.destinationURI == nil)

        let body = #"{"destination":"qemu+tcp://b/x;y","destination_uri":"http://x","live":false,"postcopy":true,"#
            + #""max_downtime_ms":0,"bandwidth_mib_s":2000000,"copy_storage":"some","persistent":false,"tls":"yes","extra":1}"#
        #expect(throws: GuestSpecError.self) { try MigrationRequest.read(json: Array(body.utf8)) }
        do {
            _ = try MigrationRequest.read(json: Array(body.utf8))
        } catch {
            let pointers = Set(error.errors.map(\.pointer))
            #expect(pointers == ["/destination", "/destination_uri", "/postcopy", "/max_downtime_ms", "/bandwidth_mib_s",
                                 "/copy_storage", "/undefine_source", "/tls", "/extra"], "\(error.errors)")
        }
        do {
            _ = try MigrationRequest.read(json: Array("{}".utf8))
        } catch {
            #expect(error.errors.map(\.pointer) == ["/destination"], "\(error.errors)")
        }
    }

    @Test func tuningNeedsOneLimitInRange() throws {
        let both = try MigrationTuning.read(json: Array(#"{"max_downtime_ms":500,"bandwidth_mib_s":100}"#.utf8))
        #expect(both.maxDowntimeMilliseconds == 500 && both.bandwidthMiBs == 100)
        for body in ["{}", #"{"max_downtime_ms":0}"#, #"{"bandwidth_mib_s":1000001}"#, #"{"speed":1}"#] {
            #expect(throws: GuestSpecError.self, "\(body)") { try MigrationTuning.read(json: Array(body.utf8)) }
        }
    }
}
