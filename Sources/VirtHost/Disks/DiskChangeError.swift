/// Why a guest's disk cannot be changed as asked, beyond ``HostError``.
public enum DiskChangeError: Error, Sendable, CustomStringConvertible {
    /// A medium goes into a CD-ROM drive only; `device` is what the target is.
    case notRemovable(target: String, device: String)
    /// The disk cannot grow here; `reason` says why and what would work.
    case notResizable(target: String, reason: String)

    public var description: String {
        switch self {
        case .notRemovable(let target, let device):
            "disk \(target) is a \(device), not a CD-ROM drive: only a CD-ROM takes a medium"
        case .notResizable(let target, let reason):
            "disk \(target) cannot be resized: \(reason)"
        }
    }
}
