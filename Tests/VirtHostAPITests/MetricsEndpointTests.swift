import Foundation
import Testing
import TestSupport

/// `GET /metrics`: Prometheus text with every series the service promises.
@Suite(.paced) struct MetricsEndpointTests {
    static let hostSeries = [
        "libvirt_up", "libvirt_node_cpus_online", "libvirt_node_vcpus_used", "libvirt_node_memory_total_bytes",
        "libvirt_node_memory_used_bytes", "libvirt_node_disk_available_least_bytes",
    ]
    static let domainSeries = [
        "libvirt_domain_info_state", "libvirt_domain_info_virtual_cpus", "libvirt_domain_info_maximum_memory_bytes",
        "libvirt_domain_info_memory_usage_bytes", "libvirt_domain_info_cpu_time_seconds_total",
    ]

    /// Sample names and their label sets and values, read strictly: every sample line is
    /// `name{labels} value`, and its family was declared by a `# TYPE` line before it.
    static func samples(_ text: String) throws -> [(name: String, labels: String, value: Double)] {
        var declared: Set<String> = []
        var samples: [(String, String, Double)] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                declared.insert(String(line.split(separator: " ")[2]))
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw Failure(description: "not a sample: \(line)")
            }
            let series = line[..<space]
            let name = series.prefix { $0 != "{" }
            let family = ["_bucket", "_sum", "_count"].reduce(String(name)) { name, suffix in
                name.hasSuffix(suffix) && declared.contains(String(name.dropLast(suffix.count)))
                    ? String(name.dropLast(suffix.count)) : name
            }
            guard declared.contains(family) else { throw Failure(description: "no TYPE before \(line)") }
            samples.append((String(name), String(series.dropFirst(name.count)), value))
        }
        return samples
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    @Test func everySeriesIsThereAndWellFormed() async throws {
        let api = try APITestServer(uri: Fixtures.domainsInEveryStateURI)
        _ = try await httpRequest(port: api.port, "/healthz")
        let response = try await httpRequest(port: api.port, "/metrics")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let samples = try Self.samples(response.text)
        let names = Set(samples.map(\.name))
        for series in Self.hostSeries + Self.domainSeries {
            #expect(names.contains(series), "missing \(series)")
        }
        #expect(samples.first { $0.name == "libvirt_up" }?.value == 1)
        #expect(samples.first { $0.name == "libvirt_node_vcpus_used" }?.value == 6)
        // One series per domain, labelled with its name and UUID; off1 is shut off (5).
        let states = samples.filter { $0.name == "libvirt_domain_info_state" }
        #expect(states.count == 4)
        #expect(states.contains {
            $0.labels == #"{domain="off1",uuid="33333333-3333-4333-8333-333333333333"}"# && $0.value == 5
        })
        // The service's own HTTP series.
        #expect(samples.contains { $0.name == "virthost_http_requests_total" && $0.labels.contains(#"route="/healthz""#) })
        #expect(names.contains("virthost_http_request_duration_seconds_bucket"))
        await api.stop()
    }

    @Test func libvirtDownIsAZeroNotAFailure() async throws {
        let api = try APITestServer(uri: "qemu+unix:///system?socket=/nonexistent/sock")
        let response = try await httpRequest(port: api.port, "/metrics")
        #expect(response.status == 200)
        let samples = try Self.samples(response.text)
        #expect(samples.first { $0.name == "libvirt_up" }?.value == 0)
        #expect(!samples.contains { $0.name.hasPrefix("libvirt_domain_") })
        await api.stop()
    }

    /// Prometheus' own linter, `promtool check metrics` (Debian's `prometheus`, installed by
    /// `scripts/install-deps.sh --test`), accepts live scrapes: every family has HELP and
    /// TYPE, names and units as Prometheus wants them. Taken while an event stream is open and
    /// after it ended, with requests of every kind behind it. Event streams stay out of the
    /// request-duration histogram and have series of their own.
    @Test func promtoolAcceptsALiveScrapeAndStreamsHaveTheirOwnSeries() async throws {
        let api = try APITestServer(uri: Fixtures.domainsInEveryStateURI, heartbeat: .milliseconds(100))
        _ = try await httpRequest(port: api.port, "/healthz")
        _ = try await httpRequest(port: api.port, "/v1/no-such-route")
        _ = try await httpRequest(port: api.port, "/v1/events?type=nonsense")
        func series(_ text: String, _ name: String) throws -> [(labels: String, value: Double)] {
            try Self.samples(text).filter { $0.name == name }.map { ($0.labels, $0.value) }
        }
        let openScrape: String
        do {
            let stream = try await onOwnThread { try SSEStreamClient(port: api.port, path: "/v1/events") }
            _ = try await onOwnThread { try stream.next() }
            openScrape = try await httpRequest(port: api.port, "/metrics").text
            #expect(try series(openScrape, "virthost_http_streams_open").map(\.value) == [1])
        }
        // The client is gone: the next heartbeat finds it out and the stream ends.
        var closedScrape = ""
        for _ in 0..<100 {
            closedScrape = try await httpRequest(port: api.port, "/metrics").text
            if try series(closedScrape, "virthost_http_streams_open").map(\.value) == [0],
               try !series(closedScrape, "virthost_http_stream_duration_seconds_count").isEmpty { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        await api.stop()
        #expect(try series(closedScrape, "virthost_http_streams_open")
                    .map { "\($0.labels) \($0.value)" } == [#"{route="/v1/events"} 0.0"#])
        #expect(try series(closedScrape, "virthost_http_stream_duration_seconds_count")
                    .map { "\($0.labels) \($0.value)" } == [#"{route="/v1/events",status="200"} 1.0"#])
        let requestLatencies = try series(closedScrape, "virthost_http_request_duration_seconds_count").map(\.labels)
        #expect(requestLatencies.contains { $0.contains(#"route="/healthz""#) })
        // The refused stream (a 400 before any stream) is a request like any other.
        #expect(requestLatencies.contains { $0.contains(#"route="/v1/events""#) && $0.contains(#"status="400""#) })
        #expect(!requestLatencies.contains { $0.contains(#"route="/v1/events""#) && $0.contains(#"status="200""#) })

        for scrape in [openScrape, closedScrape] {
            let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("scrape-\(UUID()).txt")
            try scrape.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            // promtool reads the exposition on standard input and exits non-zero on any complaint.
            let verdict = try await onOwnThread {
                try run("sh", ["-c", #"promtool check metrics < "$1" 2>&1; echo "exit $?""#, "sh", file.path])
            }
            #expect(verdict == "exit 0\n", "promtool: \(verdict)")
        }
    }

    /// The official Python client's parser reads the exposition (installed by `scripts/test.sh`).
    @Test(.enabled(if: MetricsEndpointTests.python != nil, "VIRTHOST_TEST_PYTHON names a Python with prometheus_client"))
    func prometheusClientParsesIt() async throws {
        let python = try #require(Self.python)
        let api = try APITestServer(uri: Fixtures.domainsInEveryStateURI)
        let text = try await httpRequest(port: api.port, "/metrics").text
        await api.stop()
        let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("metrics-\(UUID()).txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let script = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for sample in family.samples:
                    print(sample.name)
            """
        let output = try await onOwnThread { try run(python, ["-c", script, file.path]) }
        let parsed = Set(output.split(separator: "\n").map(String.init))
        for series in Self.hostSeries + Self.domainSeries {
            #expect(parsed.contains(series), "the parser did not find \(series)")
        }
    }

    static let python = ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"]
}
