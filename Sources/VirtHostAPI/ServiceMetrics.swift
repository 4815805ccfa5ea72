import HTTPServer
import Locking
import Prometheus

/// The service's own series, in a Prometheus registry of the service's own (not a process-wide
/// one, so each API instance, and each test, has its own). Every family carries HELP and TYPE
/// (`promtool check metrics` accepts the exposition; a test runs it on a live scrape):
/// - `virthost_http_requests_total{method,route,status}`: every finished request, streams too;
/// - `virthost_http_request_duration_seconds{method,route,status}`: the latency of requests
///   answered with a whole body; streams stay out, a 100 s stream would land in `+Inf`;
/// - `virthost_http_streams_open{route}` and `virthost_http_stream_duration_seconds{route,status}`:
///   streamed answers (server-sent events), open now and how long each lasted.
public final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    private struct Key: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    /// Handles are made once per label set; recording is then two atomic updates.
    private let handles = Mutex<[Key: (requests: Counter, duration: DurationHistogram)]>([:])
    private let streamHandles = Mutex<[String: Gauge]>([:])

    static let requestBuckets: [Swift.Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
        .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
    ]
    static let streamBuckets: [Swift.Duration] = [
        .seconds(1), .seconds(10), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
        .seconds(4 * 3600), .seconds(24 * 3600),
    ]

    // Computed: the library's descriptor type is not Sendable.
    static var requests: MetricNameDescriptor {
        .named("virthost_http_requests_total",
               help: "HTTP requests finished, by method, route pattern and status (streams included).")
    }
    static var requestDuration: MetricNameDescriptor {
        .named("virthost_http_request_duration_seconds",
               help: "Time from a request's arrival to its answer's last byte, for answers that are not streams.")
    }
    static var streamDuration: MetricNameDescriptor {
        .named("virthost_http_stream_duration_seconds",
               help: "How long each streamed answer (server-sent events) stayed open.")
    }
    static var streamsOpen: MetricNameDescriptor {
        .named("virthost_http_streams_open",
               help: "Streamed answers (server-sent events) open now, by route pattern.")
    }

    public init() {}

    /// Records one completed request. Called on the HTTP server's thread: never blocks.
    @Sendable public func record(_ request: CompletedRequest) {
        let key = Key(method: request.method, route: request.route ?? "unmatched", status: request.status)
        let (requests, duration) = handles.withLock { handles in
            if let existing = handles[key] { return existing }
            let labels = [("method", key.method), ("route", key.route), ("status", String(key.status))]
            let made = (
                requests: registry.makeCounter(descriptor: Self.requests, labels: labels),
                duration: request.streamed
                    ? registry.makeDurationHistogram(descriptor: Self.streamDuration,
                                                     labels: [("route", key.route), ("status", String(key.status))],
                                                     buckets: Self.streamBuckets)
                    : registry.makeDurationHistogram(descriptor: Self.requestDuration, labels: labels,
                                                     buckets: Self.requestBuckets)
            )
            // A route answers with a stream or with a body, whatever the request: the key's
            // first answer says which, except for errors before a stream starts, whose
            // status differs and so has a key of its own.
            handles[key] = made
            return made
        }
        requests.increment()
        duration.record(request.duration)
    }

    /// The open-streams gauge of `route`: a stream increments it when it starts and
    /// decrements it when it ends.
    func openStreams(route: String) -> Gauge {
        streamHandles.withLock { handles in
            if let gauge = handles[route] { return gauge }
            let gauge = registry.makeGauge(descriptor: Self.streamsOpen, labels: [("route", route)])
            handles[route] = gauge
            return gauge
        }
    }
}
