import Dispatch
import Locking

/// A serial executor with one thread of its own. Every job of an actor that uses it runs on
/// that thread, so blocking libvirt calls never occupy Swift's cooperative pool (two threads
/// on a two-core machine), and libvirt's thread-local last error is read where it was set.
final class ThreadExecutor: SerialExecutor, Sendable {
    private let jobs = Mutex<[UnownedJob]>([])
    private let available = DispatchSemaphore(value: 0)

    init(name: String) {
        // The thread keeps the executor alive: an actor's executor lives as long as the process.
        DetachedThread.start(name: name) { [self] in
            while true {
                available.wait()
                let job = jobs.withLock { $0.removeFirst() }
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
        }
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
