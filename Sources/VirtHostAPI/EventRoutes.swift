import FoundationEssentials
import HTTPServer
import Libvirt
import Locking
import Prometheus
import VirtHost

/// `GET /v1/events`: the Host's events as server-sent events.
struct EventRoutes {
    let host: VirtHost.Host
    /// How often a quiet stream sends a comment, so proxies keep it and dead peers show.
    let heartbeat: Duration
    let metrics: ServiceMetrics

    func register(in router: inout Router) {
        let openStreams = metrics.openStreams(route: "/v1/events")
        router.get("/v1/events") { [host, heartbeat] request in
            let types = Set(request.queryValues("type").flatMap { $0.split(separator: ",").map(String.init) })
            if let unknown = types.subtracting(EventFilter.knownTypes).sorted().first {
                throw Problem.badRequest("type \(unknown) is not an event type; known: "
                                         + EventFilter.knownTypes.sorted().joined(separator: ", "), parameter: "type")
            }
            let filter = EventFilter(domains: Set(request.queryValues("domain").filter { !$0.isEmpty }), types: types)
            let lastID: UInt64?
            if let text = request.query("last_event_id") ?? request.headers["Last-Event-ID"] {
                guard let id = UInt64(text) else {
                    throw Problem.badRequest("last_event_id must be an event id, got \(text)", parameter: "last_event_id")
                }
                lastID = id
            } else {
                lastID = nil
            }
            let coalesce = try request.bool("coalesce", default: false)
            let headers = [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
            // HEAD gets the stream's headers and no subscription (one would never be read, so
            // never end).
            if request.method == "HEAD" {
                var response = Response(status: 200, contentType: "text/event-stream", body: [])
                for (name, value) in headers { response.headers.add(name, value) }
                return response
            }
            let subscription = host.events.subscribe(filter, after: lastID, coalesce: coalesce)
            return .stream(contentType: "text/event-stream", headers: headers,
                           ServerSentEvents(subscription: subscription, heartbeat: heartbeat, openStreams: openStreams))
        }
    }
}

/// A subscription as an SSE byte stream: a `retry:` hint, then one frame per event, an
/// `overflow` frame when the subscriber fell behind, and a comment when the stream is quiet.
/// It is pulled as fast as the client reads; a client that stops reading makes its own
/// subscription overflow, never the hub wait.
struct ServerSentEvents: AsyncSequence, Sendable {
    typealias Element = [UInt8]

    let subscription: EventSubscription
    let heartbeat: Duration
    /// Counts the streams being sent: one from the first byte pulled to the end.
    let openStreams: Gauge
    static let retryMilliseconds = 3000

    final class Iterator: AsyncIteratorProtocol {
        let subscription: EventSubscription
        var started = false
        let poker: Task<Void, Never>
        let openStreams: Gauge

        init(subscription: EventSubscription, heartbeat: Duration, openStreams: Gauge) {
            self.subscription = subscription
            self.openStreams = openStreams
            openStreams.increment()
            poker = Task {
                while !subscription.isFinished {
                    try? await Task.sleep(for: heartbeat)
                    subscription.poke()
                }
            }
        }

        deinit {
            poker.cancel()
            subscription.finish()
            openStreams.decrement()
        }

        func next() async -> [UInt8]? {
            if !started {
                started = true
                return Array("retry: \(ServerSentEvents.retryMilliseconds)\n\n".utf8)
            }
            guard let item = await subscription.next() else {
                poker.cancel()
                return nil
            }
            return ServerSentEvents.frame(item)
        }
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(subscription: subscription, heartbeat: heartbeat, openStreams: openStreams)
    }

    /// The last event's frame. Every subscriber sends the same bytes for an event: with a
    /// thousand streams, writing its JSON once instead of per stream was a fifth of the
    /// fan-out. Matched by the whole event, so hubs whose ids overlap never share a frame.
    static let lastEventFrame = Mutex<(event: HostEvent, frame: [UInt8])?>(nil)

    static func frame(_ item: EventSubscription.Item) -> [UInt8] {
        switch item {
        case .heartbeat:
            return Array(": heartbeat\n\n".utf8)
        case .overflow(let overflow):
            // No `id:`: the client's Last-Event-ID stays at the last event it really got.
            let data = (try? JSONWriter.encode(OverflowDocument(overflow))).map { String(decoding: $0, as: UTF8.self) }
                ?? "{}"
            return Array("event: overflow\ndata: \(data)\n\n".utf8)
        case .event(let event):
            if let last = lastEventFrame.withLock({ $0 }), last.event == event { return last.frame }
            // An operation event's data is the operation's document, as GET /v1/operations/{id}.
            let encoded = if let operation = event.operation {
                try? JSONWriter.encode(OperationDocument(operation))
            } else {
                try? JSONWriter.encode(EventDocument(event))
            }
            let data = encoded.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            let frame = Array("id: \(event.id)\nevent: \(event.kind.rawValue)\ndata: \(data)\n\n".utf8)
            lastEventFrame.withLock { $0 = (event, frame) }
            return frame
        }
    }
}

/// An overflow's `data:` JSON: why events are missing, and how many when that is known.
struct OverflowDocument: Encodable {
    let reason: String
    let dropped: Int?
    let detail: String

    init(_ overflow: EventSubscription.Overflow) {
        reason = overflow.reason.rawValue
        dropped = overflow.dropped
        detail = switch overflow.reason {
        case .queueFull: "this stream fell behind and its oldest events were dropped; list the domains again"
        case .replayGap: "events after the last event id have left the replay buffer; list the domains again"
        case .restarted: "the service restarted since the last event id; events may have been missed; list the domains again"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reason, forKey: .reason)
        try container.encodeIfPresent(dropped, forKey: .dropped)
        try container.encode(detail, forKey: .detail)
    }

    enum CodingKeys: String, CodingKey { case reason, dropped, detail }
}

/// An event's `data:` JSON.
struct EventDocument: Encodable {
    struct Domain: Encodable {
        let name: String
        let uuid: String
    }

    let id: UInt64
    let time: Date
    let domain: Domain?
    let event: String?
    let detail: String?
    let state: String?
    let synthetic: Bool?
    let device: String?
    let reason: String?
    let namespace: String?
    let path: String?
    let balloonKiB: UInt64?
    let job: JobStatistics?
    let iteration: Int?

    enum CodingKeys: String, CodingKey {
        case id, time, domain, event, detail, state, synthetic, device, reason, namespace, path, job, iteration
        case balloonKiB = "balloon_kib"
    }

    /// A completed job's statistics as libvirt names them: numbers as numbers, text as text.
    struct JobStatistics: Encodable {
        let parameters: [TypedParameter]

        struct Key: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for parameter in parameters {
                let key = Key(stringValue: parameter.field)
                switch parameter.value {
                case .int(let value): try container.encode(value, forKey: key)
                case .uint(let value): try container.encode(value, forKey: key)
                case .llong(let value): try container.encode(value, forKey: key)
                case .ullong(let value): try container.encode(value, forKey: key)
                case .double(let value): try container.encode(value, forKey: key)
                case .boolean(let value): try container.encode(value, forKey: key)
                case .string(let value): try container.encode(value, forKey: key)
                }
            }
        }
    }

    init(_ event: HostEvent) {
        id = event.id
        time = event.time
        domain = event.domainUUID.map { Domain(name: event.domainName ?? "", uuid: $0) }
        switch event.kind {
        case .lifecycle:
            self.event = event.event
            detail = event.detail
            state = event.state
            synthetic = event.synthetic
        case .connection:
            self.event = nil
            detail = nil
            state = event.event
            synthetic = nil
        case .agentLifecycle, .blockJob, .metadataChange, .ioError:
            self.event = event.event
            detail = event.detail
            state = nil
            synthetic = nil
        default:
            self.event = nil
            detail = nil
            state = nil
            synthetic = nil
        }
        device = event.device
        reason = event.reason
        namespace = event.namespace
        path = event.path
        balloonKiB = event.balloonKiB
        job = event.job.map(JobStatistics.init(parameters:))
        iteration = event.iteration
    }
}

