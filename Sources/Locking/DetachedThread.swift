#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A named thread of its own for the life of its body, on pthreads directly: the service's
/// modules import only FoundationEssentials, which has no `Thread`.
public enum DetachedThread {
    /// Starts `body` on a new detached thread called `name` (at most 15 bytes are kept, the
    /// kernel's limit). The name is set from inside the thread, so it is there before `body`
    /// runs.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Context(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, detachedThreadEntry, context)
        // Only resource exhaustion fails here, and a service without its threads cannot run.
        precondition(status == 0, "pthread_create failed: \(String(cString: strerror(status)))")
        pthread_detach(thread)
    }

    /// The calling thread's name, as `start(name:_:)` set it.
    public static var currentName: String {
        var buffer = [CChar](repeating: 0, count: 16)
        _ = getName?(pthread_self(), &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // glibc's pthread_setname_np and pthread_getname_np, which Swift's Glibc module does not
    // declare (they are GNU extensions); looked up once.
    private typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
    private typealias GetName = @convention(c) (pthread_t, UnsafeMutablePointer<CChar>, Int) -> Int32
    private static let setName = dlsym(nil, "pthread_setname_np").map { unsafeBitCast($0, to: SetName.self) }
    private static let getName = dlsym(nil, "pthread_getname_np").map { unsafeBitCast($0, to: GetName.self) }

    fileprivate final class Context: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    fileprivate static func run(_ context: Context) {
        _ = setName?(pthread_self(), String(decoding: context.name.utf8.prefix(15), as: UTF8.self))
        context.body()
    }
}

/// The new thread's entry: takes back the context `start` retained for it.
private func detachedThreadEntry(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    DetachedThread.run(Unmanaged<DetachedThread.Context>.fromOpaque(raw!).takeRetainedValue())
    return nil
}
