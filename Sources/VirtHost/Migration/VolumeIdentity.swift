import Libvirt

/// Whether two hosts' libvirt see the same file at a path, through their own storage
/// lookups (`virStorageVolLookupByPath`), never by the path alone: the same path may hold
/// a different file on each host (local directories), or one file both mount.
///
/// A file's identity here is its volume key, capacity and its change and modification times
/// to the nanosecond, as each libvirt reads them from the file itself: a different file with
/// all four equal is practically impossible. The source is read before and after the
/// destination, so a guest writing meanwhile can't make one file look like two (it is tried
/// again) or two files look like one.
struct VolumeIdentity: Hashable {
    var key: String
    var capacity: UInt64
    var changed: String
    var modified: String

    enum Comparison {
        case same
        /// The destination has another file at the path.
        case different(String)
        /// The destination has no file at the path (in any pool).
        case absent(String)
        case unknown(String)
    }

    static func compare(path: String, source: Connection, destination: Connection) -> Comparison {
        for _ in 0..<3 {
            guard let before = read(path, source) else {
                return .unknown("no storage pool on this host holds \(path), so whether the destination shares it is unknown")
            }
            guard let there = read(path, destination) else {
                return .absent("the destination has no file at \(path) in any storage pool")
            }
            let after = read(path, source)
            if before == after {
                return before == there ? .same : .different("the destination has another file at \(path)")
            }
        }
        return .unknown("\(path) kept changing while it was compared")
    }

    /// The identity of the volume at `path` (found as ``PoolDirectory`` finds it, files made
    /// outside libvirt included).
    static func read(_ path: String, _ connection: Connection) -> VolumeIdentity? {
        guard let volume = try? PoolDirectory.volume(at: path, on: connection), let xml = try? volume.xml(),
              let root = try? XMLTree(xml, root: "volume").root,
              let key = root.childText("key"), let capacity = root.childText("capacity").flatMap(UInt64.init),
              let changed = root.at("target", "timestamps", "ctime")?.text,
              let modified = root.at("target", "timestamps", "mtime")?.text else { return nil }
        return VolumeIdentity(key: key, capacity: capacity, changed: changed, modified: modified)
    }
}
