import Dispatch
import Locking

/// A serial executor with one thread of its own. Every job of an actor that uses it runs on
/// that thread, so blocking libvirt calls never occupy Swift's cooperative pool (two threads
/// on a two-core machine).
///
/// The thread ends when the executor does: the actor owns the executor, the thread holds it
/// only weakly (and strongly only while it runs one of its jobs, which keeps the actor alive
/// anyway), and the executor's deinit tells the thread to leave once the queue is empty.
final class ThreadExecutor: SerialExecutor, Sendable {
    private let queue = JobQueue()

    init(name: String) {
        let queue = queue
        DetachedThread.start(name: name) { [weak self] in
            while let job = queue.next() {
                // A job of the actor keeps the actor, and so this executor, alive.
                guard let executor = self else { continue }
                job.runSynchronously(on: executor.asUnownedSerialExecutor())
            }
        }
    }

    deinit { queue.close() }

    func enqueue(_ job: consuming ExecutorJob) {
        queue.append(UnownedJob(job))
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}

/// The executor's jobs, first in first out; `next()` blocks until there is one, and returns
/// nil once closed and empty.
private final class JobQueue: Sendable {
    private struct State {
        var jobs: [UnownedJob] = []
        var head = 0
        var closed = false
    }
    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)

    func append(_ job: UnownedJob) {
        state.withLock { $0.jobs.append(job) }
        available.signal()
    }

    func close() {
        state.withLock { $0.closed = true }
        available.signal()
    }

    func next() -> UnownedJob? {
        while true {
            available.wait()
            let job = state.withLock { state -> (job: UnownedJob?, done: Bool) in
                guard state.head < state.jobs.count else { return (nil, state.closed) }
                let job = state.jobs[state.head]
                state.head += 1
                // Compact now and then, not on every job.
                if state.head > 64, state.head * 2 > state.jobs.count {
                    state.jobs.removeFirst(state.head)
                    state.head = 0
                }
                return (job, false)
            }
            if let job = job.job { return job }
            if job.done { return nil }
        }
    }
}
