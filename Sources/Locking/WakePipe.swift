#if canImport(Glibc)
import Glibc
#endif

/// A pipe that wakes a thread waiting in poll(2): ``wake()`` from any thread writes a byte,
/// and the waiter polls ``readEnd`` (alone, ``wait(timeoutMilliseconds:)``, or among other
/// descriptors) and then ``drain()``s it. Both ends are non-blocking, so a wake never blocks
/// (a full pipe already wakes). Made for the process's long-lived poll threads: it is never
/// closed.
public struct WakePipe: Sendable {
    public let readEnd: Int32
    private let writeEnd: Int32

    public init() {
        var ends: [Int32] = [0, 0]
        // Without a pipe the service has no sockets either: there is nothing to fall back to.
        precondition(pipe(&ends) == 0, "pipe failed: \(String(cString: strerror(errno)))")
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        (readEnd, writeEnd) = (ends[0], ends[1])
    }

    public func wake() {
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)
    }

    /// Empties the pipe, so the next poll waits again.
    public func drain() {
        var bytes = [UInt8](repeating: 0, count: 256)
        while read(readEnd, &bytes, bytes.count) > 0 {}
    }

    /// Returns once woken or after `timeoutMilliseconds` (negative: only when woken).
    public func wait(timeoutMilliseconds: Int32) {
        var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        if poll(&entry, 1, timeoutMilliseconds) > 0 { drain() }
    }
}
