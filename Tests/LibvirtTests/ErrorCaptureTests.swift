import Dispatch
import Foundation
import Libvirt
import Locking
import Testing
import TestSupport

/// Each failing call carries its own error, copied inside the call, whichever thread makes it.
@Suite(.paced) struct ErrorCaptureTests {
    @Test func concurrentFailuresOnManyThreadsEachReportTheirOwnError() throws {
        let mismatches = Mutex<[String]>([])
        // Few rounds a thread: under ThreadSanitizer each failed test-driver open leaves a lock
        // counted as held on its thread, and at 128 TSan's deadlock detector gives up (a CHECK
        // failure that hangs the run).
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            do {
                let connection = try Connection(uri: "test:///default")
                for round in 0..<10 {
                    // The test driver names the file it could not open: each thread's own.
                    let path = "/nonexistent/virthost-\(index)-\(round).xml"
                    do {
                        _ = try Connection(uri: "test://\(path)")
                        mismatches.withLock { $0.append("\(path) was opened") }
                    } catch let error as LibvirtError {
                        if !error.message.contains(path) { mismatches.withLock { $0.append("\(path): \(error)") } }
                    }
                    do {
                        _ = try connection.lookupDomain(name: "missing-\(index)-\(round)")
                        mismatches.withLock { $0.append("missing-\(index)-\(round) was found") }
                    } catch let error as LibvirtError {
                        if !error.isNoDomain { mismatches.withLock { $0.append("lookup: \(error)") } }
                    }
                    // A call that succeeds in between leaves no stale error behind.
                    _ = try connection.hostname()
                }
            } catch {
                mismatches.withLock { $0.append("thread \(index): \(error)") }
            }
        }
        #expect(mismatches.withLock { $0 } == [])
    }

    @Test func aLookupOfSomethingAbsentIsNilNotAnError() throws {
        let connection = try Connection(uri: "test:///default")
        #expect(try connection.networkIsActive(name: "no-such-network-\(UUID())") == nil)
        #expect(try connection.networkIsActive(name: "default") == true)
    }
}
