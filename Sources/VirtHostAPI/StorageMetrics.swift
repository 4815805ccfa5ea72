import Prometheus
import VirtHost

extension MetricsRoutes {
    /// Each running storage pool's sizes, named as the established libvirt exporters name them
    /// (an inactive pool has no figures: libvirt reports zeros for it).
    static func record(_ pools: [StoragePoolDetails], into registry: PrometheusCollectorRegistry) {
        for pool in pools where pool.state == "running" {
            let labels = [("pool", pool.name)]
            for (name, help, value) in [
                ("libvirt_storage_pool_capacity_bytes", "Storage pool capacity.", pool.capacityBytes),
                ("libvirt_storage_pool_allocation_bytes", "Storage pool allocation.", pool.allocationBytes),
                ("libvirt_storage_pool_available_bytes", "Storage pool free space.", pool.availableBytes),
            ] {
                registry.makeGauge(descriptor: .named(name, help: help), labels: labels).set(Double(value))
            }
        }
    }
}
