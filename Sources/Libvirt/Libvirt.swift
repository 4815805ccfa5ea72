import CLibvirt

/// Process-wide libvirt set-up.
public enum Libvirt {
    private static let initialized: Bool = {
        // libvirt prints every error to stderr by default; this binding returns them instead.
        virSetErrorFunc(nil, { _, _ in })
        return virInitialize() == 0
    }()

    /// Initialises libvirt once and silences its default error printer.
    /// Safe to call from any thread, any number of times.
    public static func initialize() throws {
        guard initialized else { throw LibvirtError.last("virInitialize") }
    }

    /// The version of the libvirt library this process has loaded.
    public static func libraryVersion() throws -> LibvirtVersion {
        try initialize()
        var version: UInt = 0
        guard virGetVersion(&version, nil, nil) == 0 else { throw LibvirtError.last("virGetVersion") }
        return LibvirtVersion(code: UInt64(version))
    }
}
