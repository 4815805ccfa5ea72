import Foundation
@testable import Locking
import Testing
import TestSupport

/// The writer under the WebSocket and VNC relays, on socket pairs whose other end does not
/// read: blocked writes wait on the one poll thread (``DescriptorReadiness``), not a thread
/// each, and every byte arrives in order once the reader reads. (The process's thread count
/// cannot tell: suites running beside this one start hundreds of threads.)
@Suite(.paced) struct DescriptorWriterTests {
    /// Reads everything from `descriptor` until its end.
    static func readAll(_ descriptor: Int32) -> [UInt8] {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return all }
            all += buffer.prefix(count)
        }
    }

    @Test func blockedWritesHoldNoThreadAndEveryByteArrivesInOrder() async throws {
        let pairs = 128
        var ends: [(writer: Int32, reader: Int32)] = []
        for _ in 0..<pairs {
            var pair: [Int32] = [-1, -1]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
            _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
            ends.append((pair[0], pair[1]))
        }
        // A header and a 2 MiB body, several times what a socket pair buffers.
        let head: [UInt8] = [0xAB, 0xCD, 0xEF]
        let body = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let writers = ends.map { DescriptorWriter(descriptor: $0.writer) }
        let sent = Task {
            await withTaskGroup(of: Bool.self) { group in
                for writer in writers {
                    group.addTask { await writer.send(head, body) }
                    group.addTask { await writer.send([1, 2, 3]) }
                }
                var all = true
                for await result in group { all = all && result }
                return all
            }
        }
        // Every writer waits for room on the poll thread (others' waits there only add).
        let deadline = ContinuousClock.now + .seconds(30)
        while DescriptorReadiness.shared.pendingWaits < pairs, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        print("waits on the poll thread with \(pairs) blocked writers: \(DescriptorReadiness.shared.pendingWaits)")
        #expect(DescriptorReadiness.shared.pendingWaits >= pairs)

        // Each reader then gets both sends whole, one after the other, in some order.
        let received = await withTaskGroup(of: [UInt8].self) { group in
            for end in ends {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        Thread.detachNewThread { continuation.resume(returning: Self.readAll(end.reader)) }
                    }
                }
            }
            // The writers' ends close once everything was sent, which ends the readers.
            #expect(await sent.value)
            for end in ends { close(end.writer) }
            var all: [[UInt8]] = []
            for await bytes in group { all.append(bytes) }
            return all
        }
        for bytes in received {
            #expect(bytes == head + body + [1, 2, 3] || bytes == [1, 2, 3] + head + body)
        }
        for end in ends { close(end.reader) }
    }
}
