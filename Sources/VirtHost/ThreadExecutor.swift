import Dispatch
import Foundation
import Synchronization

/// A serial executor with one thread of its own. Every job of an actor that uses it runs on
/// that thread, so blocking libvirt calls never occupy Swift's cooperative pool (two threads
/// on a two-core machine), and libvirt's thread-local last error is read where it was set.
final class ThreadExecutor: SerialExecutor, Sendable {
    private let jobs = Mutex<[UnownedJob]>([])
    private let available = DispatchSemaphore(value: 0)

    init(name: String) {
        // The thread keeps the executor alive: an actor's executor lives as long as the process.
        let thread = Thread { [self] in
            // Named from inside: on Linux a name set before start() does not reach the thread.
            Thread.current.name = name
            while true {
                available.wait()
                let job = jobs.withLock { $0.removeFirst() }
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
        }
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
        available.signal()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
