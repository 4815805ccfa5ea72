#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `Synchronization.Mutex`'s API on a pthread mutex, so that ThreadSanitizer understands it.
///
/// On Linux, `Synchronization.Mutex` hands a contended lock over through a priority-inheriting
/// futex inside the standard library, which is not instrumented: ThreadSanitizer never sees the
/// hand-over and reports every access under the lock as a race (four threads appending to a
/// `Mutex<[Int]>` only inside `withLock` are enough to show it). glibc's pthread mutex is
/// intercepted by the sanitizers, so what they report about code using this one is real.
/// Uncontended, both take one atomic instruction to lock and one to unlock.
public struct Mutex<Value>: ~Copyable {
    private let storage: Storage

    public init(_ initialValue: sending Value) {
        storage = Storage.create(minimumCapacity: 1) { _ in initialValue } as! Storage
        storage.withUnsafeMutablePointerToElements { _ = pthread_mutex_init($0, nil) }
    }

    /// Runs `body` with the value, the lock held.
    public borrowing func withLock<Result, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        // Both addresses stay valid while `storage` lives, and it lives as long as `self`.
        let lock = storage.withUnsafeMutablePointerToElements { $0 }
        let value = storage.withUnsafeMutablePointerToHeader { $0 }
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return try body(&value.pointee)
    }

    /// The value and the lock in one allocation; the lock is tail-allocated, so its address
    /// is stable for the object's lifetime, as pthread requires.
    private final class Storage: ManagedBuffer<Value, pthread_mutex_t> {
        deinit {
            _ = withUnsafeMutablePointerToElements { pthread_mutex_destroy($0) }
        }
    }
}

// Safe to share for the reason `Synchronization.Mutex` is (which is `@unchecked Sendable` the
// same way): the value is reached only inside `withLock`, with the mutex held, and values go in
// and out only as `sending`, so nothing that is not Sendable is ever reachable from two threads.
extension Mutex: @unchecked Sendable {}
