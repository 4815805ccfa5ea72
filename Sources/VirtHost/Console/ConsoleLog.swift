import Libvirt
import Locking
#if canImport(Glibc)
import Glibc
#endif

/// Why a console log cannot be read.
public enum ConsoleLogError: Error, Sendable {
    /// The domain's serial port has no `<log file=…>`, or it lies outside the console-log
    /// directory, or nothing was written yet; `reason` says which.
    case noLog(domain: String, reason: String)
    case host(HostError)
}

/// A guest's serial-console log, kept by libvirt (virtlogd) in the file the serial port's
/// `<log file=… append='on'/>` names: Nova's `get_console_output`. Only files in
/// ``Host/Configuration/consoleLogDirectory`` are read, so a spec's own `serial.log_file`
/// cannot make the service read any file of the host.
public struct ConsoleLog: Sendable {
    let host: Host

    public init(host: Host) { self.host = host }

    /// The last `bytes` bytes of the log of domain `reference` (UUID or name). The domain's
    /// XML is read in one turn of the Host; the file on a thread of its own.
    public func tail(_ reference: String, bytes: Int) async throws(ConsoleLogError) -> [UInt8] {
        let path: String?
        do {
            path = try await host.run { host throws(HostError) -> String? in
                try host.withDomain(reference) { domain -> String? in
                    let root = try XMLTree(try domain.xml(), root: "domain").root
                    let serials = root.child("devices")?.children("serial") ?? []
                    return serials.lazy.compactMap { $0.child("log")?.attribute("file") }.first
                }
            }
        } catch {
            throw .host(error)
        }
        guard let path else {
            throw .noLog(domain: reference, reason: "its serial port keeps no log (no <log file=…/>)")
        }
        guard let directory = host.configuration.consoleLogDirectory, Self.isInside(path, directory) else {
            throw .noLog(domain: reference, reason: "its serial log \(path) is outside the service's console-log directory")
        }
        let read: Result<[UInt8], ConsoleLogError> = await withCheckedContinuation { continuation in
            DetachedThread.start(name: "virthost-log") {
                continuation.resume(returning: Self.readTail(path, bytes: bytes, reference: reference))
            }
        }
        return try read.get()
    }

    /// Whether `path` names a file inside `directory`, with no `..` to climb out.
    static func isInside(_ path: String, _ directory: String) -> Bool {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return path.hasPrefix(prefix) && !path.split(separator: "/").contains("..")
    }

    static func readTail(_ path: String, bytes: Int, reference: String) -> Result<[UInt8], ConsoleLogError> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else {
            let reason = errno == ENOENT ? "its serial log \(path) was not written yet (the guest has not run since it was created)"
                : "its serial log \(path) cannot be read: \(String(cString: strerror(errno)))"
            return .failure(.noLog(domain: reference, reason: reason))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            return .failure(.noLog(domain: reference, reason: "its serial log \(path) is not a regular file"))
        }
        let start = max(0, Int(status.st_size) - bytes)
        var buffer = [UInt8](repeating: 0, count: Int(status.st_size) - start)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { raw in
                pread(descriptor, raw.baseAddress! + filled, raw.count - filled, off_t(start + filled))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            filled += count
        }
        return .success(Array(buffer.prefix(filled)))
    }
}
