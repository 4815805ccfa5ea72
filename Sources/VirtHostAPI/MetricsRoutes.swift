import HTTPServer
import Libvirt
import Prometheus
import VirtHost

/// `GET /metrics`: Prometheus text format. Host and domain series are read at scrape time
/// into a registry made for that scrape, so a domain that is gone leaves no stale series;
/// the service's HTTP series follow from ``ServiceMetrics``.
struct MetricsRoutes {
    let host: Host
    let metrics: ServiceMetrics

    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    func register(in router: inout Router) {
        router.get("/metrics") { [host, metrics] _ in
            let scrape = PrometheusCollectorRegistry()
            let up = scrape.makeGauge(descriptor: .named("libvirt_up", help: "Whether the libvirt connection answers (1) or not (0)."))
            do {
                let figures = try await host.metrics()
                let statistics = try await host.domainStatistics()
                Self.record(figures, into: scrape)
                for domain in statistics { Self.record(domain, into: scrape) }
                // A driver without storage pools still has every other series.
                if let pools = try? await Storage(host: host).pools() { Self.record(pools, into: scrape) }
                up.set(Double(1))
            } catch {
                up.set(Double(0))
            }
            var body: [UInt8] = []
            scrape.emit(into: &body)
            metrics.registry.emit(into: &body)
            return Response(contentType: Self.contentType, body: body)
        }
    }

    /// Host series no libvirt exporter has: Nova's capacity figures.
    static func record(_ figures: HostMetrics, into registry: PrometheusCollectorRegistry) {
        registry.makeGauge(descriptor: .named("libvirt_node_cpus_online", help: "Online host CPUs."))
            .set(Double(figures.vcpus.total))
        registry.makeGauge(descriptor: .named("libvirt_node_vcpus_used", help: "vCPUs of running domains."))
            .set(Double(figures.vcpus.used))
        registry.makeGauge(descriptor: .named("libvirt_node_memory_total_bytes", help: "Host memory."))
            .set(Double(figures.memoryMB.total) * 1_048_576)
        registry.makeGauge(descriptor: .named("libvirt_node_memory_used_bytes",
                                              help: "Host memory in use (total - free - buffers - cached, or running domains' memory)."))
            .set(Double(figures.memoryMB.used) * 1_048_576)
        if let least = figures.disk.availableLeastBytes {
            registry.makeGauge(descriptor: .named("libvirt_node_disk_available_least_bytes",
                                                  help: "Free space of the instances path once every file-backed disk is fully grown."))
                .set(Double(least))
        }
    }

    /// Per-domain series, named as the established libvirt exporters name them.
    static func record(_ domain: DomainStatistics, into registry: PrometheusCollectorRegistry) {
        let summary = domain.summary
        let labels = [("domain", summary.name), ("uuid", summary.uuid)]
        func gauge(_ name: String, _ help: String, _ value: Double, _ extra: [(String, String)] = []) {
            registry.makeGauge(descriptor: .named(name, help: help), labels: labels + extra).set(value)
        }
        func counter(_ name: String, _ help: String, _ value: Double, _ extra: [(String, String)] = []) {
            registry.makeCounter(descriptor: .named(name, help: help), labels: labels + extra).increment(by: value)
        }
        let state = DomainState.allCases.first { $0.description == summary.state } ?? .nostate
        gauge("libvirt_domain_info_state", "Domain state: libvirt's virDomainState code.", Double(state.rawValue))
        gauge("libvirt_domain_info_virtual_cpus", "Number of virtual CPUs.", Double(summary.vcpus))
        gauge("libvirt_domain_info_maximum_memory_bytes", "Maximum memory.", Double(summary.maxMemoryMB) * 1_048_576)
        gauge("libvirt_domain_info_memory_usage_bytes", "Current memory.", Double(summary.memoryMB) * 1_048_576)
        let parameters = domain.parameters
        counter("libvirt_domain_info_cpu_time_seconds_total", "CPU time used.",
                Double(domain.cpuTimeNanoseconds) / 1e9)

        // Per-device counters: libvirt numbers the devices of a group (`block.0.rd.bytes`).
        func deviceCounters(_ group: String, _ series: [(field: String, name: String, help: String)]) {
            for index in 0..<Int(parameters["\(group).count"]?.number ?? 0) {
                guard case .string(let target)? = parameters["\(group).\(index).name"] else { continue }
                for (field, name, help) in series {
                    if let value = parameters["\(group).\(index).\(field)"]?.number {
                        counter(name, help, value, [("target_device", target)])
                    }
                }
            }
        }
        deviceCounters("block", [
            ("rd.bytes", "libvirt_domain_block_stats_read_bytes_total", "Bytes read."),
            ("rd.reqs", "libvirt_domain_block_stats_read_requests_total", "Read requests."),
            ("wr.bytes", "libvirt_domain_block_stats_write_bytes_total", "Bytes written."),
            ("wr.reqs", "libvirt_domain_block_stats_write_requests_total", "Write requests."),
        ])
        deviceCounters("net", [
            ("rx.bytes", "libvirt_domain_interface_stats_receive_bytes_total", "Bytes received."),
            ("rx.pkts", "libvirt_domain_interface_stats_receive_packets_total", "Packets received."),
            ("tx.bytes", "libvirt_domain_interface_stats_transmit_bytes_total", "Bytes transmitted."),
            ("tx.pkts", "libvirt_domain_interface_stats_transmit_packets_total", "Packets transmitted."),
        ])
    }
}

extension MetricNameDescriptor {
    /// A whole metric name (the exporters' names already carry their unit) with its help.
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
