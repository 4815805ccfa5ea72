import Libvirt
import Locking

/// Long jobs (a stream of gigabytes, a migration, a snapshot with memory) on a connection of
/// their own, so they never hold the Host's thread (README, "Threading model").
extension Host {
    /// Opens a new connection to the Host's URI on a thread of its own, runs `job` with it
    /// there, and closes it after. The Host's own connection and thread stay free meanwhile:
    /// its other calls keep their latency however long `job` blocks.
    ///
    /// The connection is `job`'s alone (libvirt connections may be used from any thread, and
    /// the binding reads each error inside its call), so it must not escape `job`, unless `job`
    /// hands it over as its last use to one new owner that alone uses it from then on (a
    /// serial console's ``SerialConsolePump``); it closes when that owner drops it.
    public nonisolated func withDedicatedConnection<T: Sendable>(
        threadName: String = "virthost-job",
        _ job: @escaping @Sendable (Connection) throws -> T
    ) async throws(HostError) -> T {
        let uri = configuration.uri, readOnly = configuration.readOnly
        let result: Result<T, HostError> = await withCheckedContinuation { continuation in
            DetachedThread.start(name: threadName) {
                continuation.resume(returning: Self.runDedicated(uri: uri, readOnly: readOnly, job))
            }
        }
        return try result.get()
    }

    private static func runDedicated<T>(uri: String, readOnly: Bool, _ job: (Connection) throws -> T)
        -> Result<T, HostError> {
        let connection: Connection
        do {
            connection = try Connection(uri: uri, readOnly: readOnly)
        } catch {
            let reason = (error as? LibvirtError)?.message ?? "\(error)"
            return .failure(.hypervisorUnavailable(reason: reason, retryAfter: .zero))
        }
        // The connection closes when this returns: `job` holds the only reference.
        do {
            return .success(try job(connection))
        } catch let error as LibvirtError {
            return .failure(.libvirt(error))
        } catch let error as HostError {
            return .failure(error)
        } catch {
            return .failure(.libvirt(LibvirtError(code: -1, domain: -1, message: "\(error)")))
        }
    }
}
