import FoundationEssentials
import Glibc

/// Where the service lets guests' disks live, and how paths are resolved to find out.
public struct ValidationPolicy: Sendable {
    /// A path that cannot be resolved, and why.
    public struct Unresolvable: Error, Sendable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    /// Absolute directories; every file or block disk path must resolve inside one.
    public var allowedDiskRoots: [String]
    /// Resolves the symbolic links of a path, so a link that leaves a root is caught.
    /// Replaceable for tests.
    public var resolve: @Sendable (String) throws(Unresolvable) -> String

    /// Linux's PATH_MAX (with the terminating NUL) and NAME_MAX.
    static let maximumPathBytes = 4095
    static let maximumComponentBytes = 255
    /// Linux's MAXSYMLINKS: more links than this in one resolution is a loop, as for the kernel.
    static let maximumLinks = 40

    public init(allowedDiskRoots: [String],
                resolve: @escaping @Sendable (String) throws(Unresolvable) -> String = ValidationPolicy.realPath) {
        self.allowedDiskRoots = allowedDiskRoots
        self.resolve = resolve
    }

    /// Why `path` may not be used, or nil when it may.
    ///
    /// The path must be written in normal form (absolute; no empty, `.` or `..` component; no
    /// trailing slash; no NUL) so that what is checked is what libvirt opens, and it must
    /// resolve inside a root. Paths are compared as bytes, as the kernel does: Swift's string
    /// comparison treats canonically equivalent Unicode (`é` and `e` + U+0301) as equal, which
    /// two different directories on disk are not. `%2e%2e` is a name like any other (neither
    /// the kernel nor libvirt decodes percent escapes), so it stays inside the root.
    public func refusal(of path: String) -> String? {
        let bytes = Array(path.utf8)
        let slash = UInt8(ascii: "/")
        guard bytes.first == slash else { return "must be an absolute path" }
        guard !bytes.contains(0) else { return "must not contain NUL" }
        guard bytes.count <= Self.maximumPathBytes else { return "must be at most \(Self.maximumPathBytes) bytes long" }
        let components = bytes.split(separator: slash, omittingEmptySubsequences: false).dropFirst()
        if components.contains(where: { $0.elementsEqual("..".utf8) }) { return "must not contain .." }
        if components.contains(where: { $0.isEmpty || $0.elementsEqual(".".utf8) }) {
            return "must be in normal form: no empty or '.' components and no trailing '/'"
        }
        if components.contains(where: { $0.count > Self.maximumComponentBytes }) {
            return "must have no name longer than \(Self.maximumComponentBytes) bytes"
        }
        let resolved: [UInt8]
        do {
            resolved = Array(try resolve(path).utf8)
        } catch {
            return "cannot be checked: \(error.reason)"
        }
        let inside = allowedDiskRoots.contains { root in
            guard let root = try? Array(resolve(root).utf8) else { return false }
            return resolved == root || resolved.starts(with: root.last == slash ? root : root + [slash])
        }
        guard inside else {
            let roots = allowedDiskRoots.joined(separator: ", ")
            return resolved == bytes ? "must be inside an allowed disk root (\(roots))"
                : "resolves to \(String(decoding: resolved, as: UTF8.self)), outside the allowed disk roots (\(roots))"
        }
        return nil
    }

    /// The path with every symbolic link of its existing part followed, as the kernel would
    /// follow them to open it; the part that does not exist yet is taken as written.
    ///
    /// Unlike `realpath(3)` of the longest existing prefix, a dangling link is followed too: a
    /// link inside a root to a file outside it that does not exist yet must not pass. A
    /// directory the service may not search cannot be checked, so it is refused rather than
    /// taken as written: it could hide a link.
    @Sendable public static func realPath(_ path: String) throws(Unresolvable) -> String {
        let slash = UInt8(ascii: "/")
        func components(_ bytes: [UInt8]) -> [[UInt8]] {
            bytes.split(separator: slash).map(Array.init).filter { $0 != [UInt8(ascii: ".")] }
        }
        var pending = Array(components(Array(path.utf8)).reversed())
        var resolved: [[UInt8]] = []
        var links = 0
        var exists = true
        while let component = pending.popLast() {
            if component == [UInt8(ascii: "."), UInt8(ascii: ".")] {
                // Only a link's target brings `..` here (paths with `..` are refused before),
                // and what is resolved so far holds no links: going up is exact.
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            resolved.append(component)
            guard exists else { continue }
            let current = [slash] + resolved.joined(separator: [slash])
            var status = stat()
            let failed = withCString(current) { lstat($0, &status) } != 0
            if failed {
                let error = errno
                guard error == ENOENT || error == ENOTDIR else { throw Unresolvable(String(cString: strerror(error))) }
                exists = false
                continue
            }
            guard status.st_mode & S_IFMT == S_IFLNK else { continue }
            links += 1
            guard links <= maximumLinks else { throw Unresolvable("more than \(maximumLinks) symbolic links (a loop)") }
            var target = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = withCString(current) { name in
                target.withUnsafeMutableBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { readlink(name, $0.baseAddress!, $0.count) }
                }
            }
            guard count >= 0 else { throw Unresolvable(String(cString: strerror(errno))) }
            let destination = Array(target.prefix(count))
            resolved.removeLast()
            if destination.first == slash { resolved = [] }
            pending.append(contentsOf: components(destination).reversed())
        }
        let bytes = [slash] + resolved.joined(separator: [slash])
        guard let result = String(validating: bytes, as: UTF8.self) else {
            throw Unresolvable("resolves to a path that is not UTF-8")
        }
        return result
    }

    private static func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }
}
