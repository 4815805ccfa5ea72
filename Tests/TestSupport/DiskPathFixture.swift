import Foundation

/// A directory tree under the temporary directory with every way a disk path can try to
/// leave its allowed root (`root`), and paths that legitimately stay inside it:
///
///     base/images/                 the allowed root
///       disk.qcow2, sub/disk.qcow2
///       escape -> /etc             a linked directory outside
///       shadow -> /etc/shadow      a linked file outside
///       dangling -> base/outside/later.qcow2   a link outside to a file not there yet
///       outdir -> ../outside       a relative link outside
///       loop -> loop
///       inside -> sub/disk.qcow2   a link that stays inside
///       subdir -> sub              a linked directory that stays inside
///     base/images-evil/x           a sibling whose name starts like the root
///     base/outside/
///     base/café/ (NFC), base/cafe\u{301}/ (NFD): two different directories
public struct DiskPathFixture: Sendable {
    public let base: String
    public var root: String { base + "/images" }
    /// The NFC spelling, allowed in ``nfcRoot``'s tests; its NFD twin is another directory.
    public var nfcRoot: String { base + "/caf\u{E9}" }
    public var nfdSibling: String { base + "/cafe\u{301}" }

    public init() throws {
        base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("virthost-paths-\(UUID().uuidString)").path
        let files = FileManager.default
        for directory in ["images/sub", "images-evil", "outside", "caf\u{E9}", "cafe\u{301}"] {
            try files.createDirectory(atPath: base + "/" + directory, withIntermediateDirectories: true)
        }
        for file in ["images/disk.qcow2", "images/sub/disk.qcow2", "images-evil/x", "caf\u{E9}/disk", "cafe\u{301}/disk"] {
            guard files.createFile(atPath: base + "/" + file, contents: Data()) else { throw CocoaError(.fileWriteUnknown) }
        }
        let links = [
            ("escape", "/etc"), ("shadow", "/etc/shadow"), ("dangling", base + "/outside/later.qcow2"),
            ("outdir", "../outside"), ("loop", "loop"), ("inside", "sub/disk.qcow2"), ("subdir", "sub"),
        ]
        for (name, destination) in links {
            try files.createSymbolicLink(atPath: base + "/images/" + name, withDestinationPath: destination)
        }
    }

    public func remove() { try? FileManager.default.removeItem(atPath: base) }

    /// Paths that must be refused under the root, each with a fragment of the reason.
    public var refused: [(case: String, path: String, reason: String)] {
        [
            ("relative", "images/disk.qcow2", "absolute"),
            ("dot-dot", root + "/../outside/x.qcow2", ".."),
            ("dot-dot deeper", root + "/sub/../../etc/passwd", ".."),
            ("dot-dot at the end", root + "/sub/..", ".."),
            ("linked directory outside", root + "/escape/shadow", "resolves to /etc/shadow"),
            ("linked file outside", root + "/shadow", "resolves to /etc/shadow"),
            ("dangling link outside", root + "/dangling", "resolves to " + base + "/outside/later.qcow2"),
            ("relative link outside", root + "/outdir/new.qcow2", "resolves to " + base + "/outside/new.qcow2"),
            ("link loop", root + "/loop", "cannot be checked"),
            ("sibling with the root's prefix", base + "/images-evil/x", "inside an allowed disk root"),
            ("double slash", root + "//disk.qcow2", "normal form"),
            ("leading double slash", "/" + root + "/disk.qcow2", "normal form"),
            ("trailing /.", root + "/sub/.", "normal form"),
            ("inner /./", root + "/./disk.qcow2", "normal form"),
            ("trailing slash", root + "/sub/", "normal form"),
            ("NUL", root + "/disk.qcow2\u{0}/../../etc/passwd", "NUL"),
            ("name longer than NAME_MAX", root + "/" + String(repeating: "a", count: 256), "255"),
            ("longer than PATH_MAX", root + String(repeating: "/" + String(repeating: "b", count: 200), count: 21), "4095"),
            ("NFD sibling of an NFC root", nfdSibling + "/disk", "inside an allowed disk root"),
        ]
    }

    /// Paths that stay inside the root however they are written.
    public var accepted: [(case: String, path: String)] {
        [
            ("a file", root + "/disk.qcow2"),
            ("a file not made yet", root + "/new/dir/disk.qcow2"),
            ("a link that stays inside", root + "/inside"),
            ("a linked directory that stays inside", root + "/subdir/disk.qcow2"),
            ("percent-encoded dots (a name, not an escape)", root + "/%2e%2e/%2e%2e/etc/passwd"),
            ("a name in NFD", root + "/cafe\u{301}.qcow2"),
            ("the NFC root", nfcRoot + "/disk"),
            ("a name of 255 bytes", root + "/" + String(repeating: "a", count: 255)),
        ]
    }
}
