import Foundation
import HTTPServer
import VirtHost

/// JSON writing on one core: the document `GET /v1/domains` returns for 1,000 domains, by
/// ``JSONWriter`` and by Foundation's `JSONEncoder`; prints documents per second of each.
///   json-benchmark [SECONDS]
@main
enum JSONBenchmark {
    /// The shape of `DomainSummary`, which only the Host makes.
    struct Domain: Encodable {
        var name: String
        var uuid: String
        @NullWhenAbsent var id: UInt32?
        var state: String
        var powerState: PowerState
        var vcpus: Int
        var memoryMB: UInt64
        var maxMemoryMB: UInt64
        var persistent: Bool
        var autostart: Bool

        enum CodingKeys: String, CodingKey {
            case name, uuid, id, state, vcpus, persistent, autostart
            case powerState = "power_state"
            case memoryMB = "memory_mb"
            case maxMemoryMB = "max_memory_mb"
        }
    }

    struct DomainList: Encodable {
        let domains: [Domain]
    }

    static func main() throws {
        let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 2 : 2
        let list = DomainList(domains: (0..<1000).map { index in
            Domain(name: "bench-\(index)", uuid: UUID().uuidString.lowercased(), id: index % 3 == 0 ? nil : UInt32(index),
                   state: "running", powerState: .running, vcpus: 1 + index % 8, memoryMB: 64 << (index % 6),
                   maxMemoryMB: 4096, persistent: true, autostart: index % 10 == 0)
        })
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        foundation.dateEncodingStrategy = .iso8601
        guard try JSONWriter.encode(list) == Array(foundation.encode(list)) else {
            print("JSONWriter and JSONEncoder differ")
            exit(1)
        }
        let only = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : nil
        for (name, encode) in [("JSONWriter", { _ = try JSONWriter.encode(list) }),
                               ("JSONEncoder", { _ = try foundation.encode(list) })] as [(String, () throws -> Void)]
            where only == nil || only == name {
            let clock = ContinuousClock()
            let deadline = clock.now + .milliseconds(Int(seconds * 1000))
            var documents = 0
            let started = clock.now
            while clock.now < deadline {
                try encode()
                documents += 1
            }
            let elapsed = clock.now - started
            let perSecond = Double(documents) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            print("\(name) \(Int(perSecond)) documents/s of 1,000 domains (\(String(format: "%.3f", 1000 / perSecond)) ms each)")
        }
    }
}
