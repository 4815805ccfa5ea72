import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide libvirt set-up.
public enum Libvirt {
    /// The outcome of the one `virInitialize`, with its error copied when it failed, so a
    /// later caller on another thread still gets libvirt's reason.
    private static let initialization: Result<Void, LibvirtError> = {
        // libvirt prints every error to stderr by default; this binding returns them instead.
        virSetErrorFunc(nil, { _, _ in })
        return Result { () throws(LibvirtError) in try LibvirtError.status("virInitialize") { virInitialize() } }
    }()

    /// Initialises libvirt once and silences its default error printer.
    /// Safe to call from any thread, any number of times.
    public static func initialize() throws {
        try initialization.get()
    }

    /// The version of the libvirt library this process has loaded.
    public static func libraryVersion() throws -> LibvirtVersion {
        try initialize()
        var version: UInt = 0
        try LibvirtError.status("virGetVersion") { virGetVersion(&version, nil, nil) }
        return LibvirtVersion(code: UInt64(version))
    }
}

/// The objects of an array a `virConnectListAll…` call allocated: each pointer wrapped (the
/// wrapper takes its reference), then the array itself freed.
func takeAll<Pointer, Object>(_ list: UnsafeMutablePointer<Pointer?>?, count: Int32,
                              _ wrap: (Pointer) -> Object) -> [Object] {
    guard let list else { return [] }
    defer { free(list) }
    return (0..<Int(count)).compactMap { list[$0].map(wrap) }
}
