import Dispatch
import Foundation
import Locking

/// A serial executor with one thread of its own. Every job of an actor that uses it runs on
/// that thread, so blocking libvirt calls never occupy Swift's cooperative pool (two threads
/// on a two-core machine), and libvirt's thread-local last error is read where it was set.
final class ThreadExecutor: SerialExecutor, Sendable {
    private let jobs = Mutex<[UnownedJob]>([])
    private let available = DispatchSemaphore(value: 0)

    init(name: String) {
        // The thread keeps the executor alive: an actor's executor lives as long as the process.
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            // Named from inside (on Linux a name set before start() does not reach the thread),
            // and only once start() has returned: Foundation's setter is a no-op until start()
            // has stored the new thread's handle, which it does after the thread is running.
            // Under ThreadSanitizer's slower start the name was lost, and with it the test that
            // tells the Host's thread by its name.
            started.wait()
            Thread.current.name = name
            while true {
                available.wait()
                let job = jobs.withLock { $0.removeFirst() }
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
        }
        thread.start()
        started.signal()
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
