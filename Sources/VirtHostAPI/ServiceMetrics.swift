import CoreMetrics
import HTTPServer
import Locking
import Prometheus

/// The service's own series: HTTP requests counted and timed by method, route pattern and
/// status, recorded through swift-metrics into a Prometheus registry of the service's own
/// (not the process-wide bootstrap, so each API instance, and each test, has its own).
public final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private struct Key: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    /// Handles are made once per label set; recording is then two atomic updates.
    private let handles = Mutex<[Key: (requests: CoreMetrics.Counter, duration: CoreMetrics.Timer)]>([:])

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
            .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
        ]
        self.factory = factory
    }

    /// Records one completed request. Called on the HTTP server's thread: never blocks.
    @Sendable public func record(_ request: CompletedRequest) {
        let key = Key(method: request.method, route: request.route ?? "unmatched", status: request.status)
        let (requests, duration) = handles.withLock { handles in
            if let existing = handles[key] { return existing }
            let made = (
                requests: CoreMetrics.Counter(label: "virthost_http_requests_total", dimensions: [
                    ("method", key.method), ("route", key.route), ("status", String(key.status)),
                ], factory: factory),
                duration: CoreMetrics.Timer(label: "virthost_http_request_duration_seconds", dimensions: [
                    ("method", key.method), ("route", key.route), ("status", String(key.status)),
                ], factory: factory)
            )
            handles[key] = made
            return made
        }
        requests.increment()
        let (seconds, attoseconds) = request.duration.components
        duration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
