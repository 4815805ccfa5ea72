import Libvirt
import Testing
import TestSupport

@Suite(.paced) struct EventLoopTests {
    @Test func startsOnceAndRuns() throws {
        try EventLoop.shared.start()
        try EventLoop.shared.start()
        #expect(EventLoop.shared.isRunning)
        // A connection made with the loop running accepts a close callback.
        let connection = try Connection(uri: "test:///default")
        try connection.onClose { _ in }
    }
}
