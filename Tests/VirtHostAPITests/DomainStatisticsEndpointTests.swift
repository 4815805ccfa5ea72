import Foundation
import Testing
import TestSupport

/// `GET /v1/domains/{ref}/stats` on the test driver, with `virsh domstats` as the witness.
@Suite(.paced) struct DomainStatisticsEndpointTests {
    /// `virsh domstats` of a domain: its `field=value` lines.
    static func virshStats(_ uri: String, _ domain: String, _ groups: [String]) throws -> [String: String] {
        let output = try run("virsh", ["-c", uri, "domstats", domain, "--nowait"] + groups)
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            fields[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        return fields
    }

    static let virshGroups = ["--cpu-total", "--balloon", "--block", "--interface"]

    /// The test driver gives none of the four groups (`virsh domstats` prints only the
    /// domain's name): every group asked for is present, empty.
    @Test func everyGroupIsPresentAndAsEmptyAsVirshShowsIt() async throws {
        let api = try APITestServer(uri: "test:///default")
        let response = try await httpRequest(port: api.port, "/v1/domains/test/stats")
        #expect(response.status == 200, "\(response.text)")
        let stats = try response.json()
        #expect(stats["name"] as? String == "test")
        #expect(stats["uuid"] as? String == "6695eb01-f6a4-8304-79aa-97f2502e193f")
        #expect(stats["sampled_at"] is String)

        let virsh = try Self.virshStats("test:///default", "test", Self.virshGroups)
        #expect(!virsh.keys.contains { $0.hasPrefix("cpu.") } && stats["cpu"] is NSNull)
        #expect(!virsh.keys.contains { $0.hasPrefix("balloon.") } && stats["balloon"] is NSNull)
        #expect(virsh["block.count"] == nil && (stats["block"] as? [Any])?.isEmpty == true)
        #expect(virsh["net.count"] == nil && (stats["interface"] as? [Any])?.isEmpty == true)
        await api.stop()
    }

    @Test func statsNarrowsTheGroups() async throws {
        let api = try APITestServer(uri: "test:///default")
        let narrowed = try await httpRequest(port: api.port, "/v1/domains/test/stats?stats=cpu,block")
        #expect(narrowed.status == 200, "\(narrowed.text)")
        let keys = Set(try narrowed.json().keys)
        #expect(keys == ["name", "uuid", "sampled_at", "cpu", "block"])

        let repeated = try await httpRequest(port: api.port, "/v1/domains/test/stats?stats=balloon&stats=interface")
        #expect(Set(try repeated.json().keys) == ["name", "uuid", "sampled_at", "balloon", "interface"])
        await api.stop()
    }

    @Test func anUnknownGroupOrDomainIsAProblem() async throws {
        let api = try APITestServer(uri: "test:///default")
        for query in ["stats=disk", "stats=cpu,,block", "stats="] {
            let bad = try await httpRequest(port: api.port, "/v1/domains/test/stats?\(query)")
            #expect(bad.status == 400, "\(query): \(bad.text)")
            #expect(try bad.json()["parameter"] as? String == "stats")
            #expect(bad.headers["content-type"] == "application/problem+json")
        }
        let missing = try await httpRequest(port: api.port, "/v1/domains/nosuchdomain/stats")
        #expect(missing.status == 404)
        await api.stop()
    }
}
