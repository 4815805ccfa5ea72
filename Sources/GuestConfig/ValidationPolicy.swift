import Foundation

/// Where the service lets guests' disks live, and how paths are resolved to find out.
public struct ValidationPolicy: Sendable {
    /// Absolute directories; every file or block disk path must resolve inside one.
    public var allowedDiskRoots: [String]
    /// Resolves symbolic links of a path (of its longest existing prefix), so a link that
    /// leaves a root is caught. Replaceable for tests.
    public var resolve: @Sendable (String) -> String

    public init(allowedDiskRoots: [String], resolve: @escaping @Sendable (String) -> String = ValidationPolicy.realPath) {
        self.allowedDiskRoots = allowedDiskRoots
        self.resolve = resolve
    }

    /// `realpath(3)` of the longest existing prefix, with the rest appended.
    @Sendable public static func realPath(_ path: String) -> String {
        var existing = URL(fileURLWithPath: path)
        var rest: [String] = []
        while existing.path != "/" {
            if let resolved = realpath(existing.path, nil) {
                defer { free(resolved) }
                var result = URL(fileURLWithPath: String(cString: resolved))
                for component in rest.reversed() { result.appendPathComponent(component) }
                return result.path
            }
            rest.append(existing.lastPathComponent)
            existing.deleteLastPathComponent()
        }
        return path
    }

    /// Whether a component of `path` (between slashes) is `..`.
    static func hasParentComponent(_ path: String) -> Bool {
        var run = 0  // dots since the last slash, or -1 once the component has anything else
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "/"):
                if run == 2 { return true }
                run = 0
            case UInt8(ascii: ".") where run >= 0: run += 1
            default: run = -1
            }
        }
        return run == 2
    }

    /// Why `path` may not be used, or nil when it may.
    func refusal(of path: String) -> String? {
        guard path.hasPrefix("/") else { return "must be an absolute path" }
        guard !Self.hasParentComponent(path) else { return "must not contain .." }
        let resolved = resolve(path)
        let inside = allowedDiskRoots.contains { root in
            let root = resolve(root)
            let prefix = root.hasSuffix("/") ? root : root + "/"
            return resolved == root || resolved.hasPrefix(prefix)
        }
        guard inside else {
            let roots = allowedDiskRoots.joined(separator: ", ")
            return resolved == path ? "must be inside an allowed disk root (\(roots))"
                : "resolves to \(resolved), outside the allowed disk roots (\(roots))"
        }
        return nil
    }
}
