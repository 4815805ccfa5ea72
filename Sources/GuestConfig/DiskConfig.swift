/// Nova's `_get_guest_disk_config`: one `<disk>` element.
public enum DiskConfig {
    public static func disk(_ disk: StorageConfig.Disk) -> Element {
        let spec = disk.spec
        return Element("disk", [("type", disk.type), ("device", disk.device)]) {
            Element("driver", [("name", "qemu"), ("type", disk.format), ("cache", spec.cache), ("io", spec.io),
                               ("discard", spec.discard)])
            source(disk)
            Element("target", [("dev", disk.target), ("bus", disk.bus)])
            if let tune = spec.iotune, tune.limits.contains(where: { $0.1 != nil }) {
                Element("iotune") {
                    for (name, value) in tune.limits {
                        if let value { Element.text(name, String(value)) }
                    }
                }
            }
            if let order = spec.bootOrder { Element("boot", [("order", String(order))]) }
            if spec.readonly || disk.device == "cdrom" { Element("readonly") }
            if let serial = spec.serial { Element.text("serial", serial) }
        }
    }

    static func source(_ disk: StorageConfig.Disk) -> Element? {
        switch disk.type {
        case "file": disk.spec.path.map { Element("source", [("file", $0)]) }
        case "block": disk.spec.path.map { Element("source", [("dev", $0)]) }
        case "volume": disk.spec.volumeSource.map { Element("source", [("pool", $0.pool), ("volume", $0.volume)]) }
        default:
            disk.spec.networkSource.map { source in
                Element("source", [("protocol", source.protocol), ("name", source.name)]) {
                    for host in source.hosts {
                        Element("host", [("name", host.name), ("port", host.port.map(String.init))])
                    }
                }
            }
        }
    }

    /// The controllers the disks need: a virtio-scsi controller when any disk is on SCSI.
    public static func controllers(_ disks: [StorageConfig.Disk]) -> [Element] {
        disks.contains { $0.bus == "scsi" }
            ? [Element("controller", [("type", "scsi"), ("index", "0"), ("model", "virtio-scsi")])] : []
    }
}

/// One `<interface>` element.
public enum InterfaceConfig {
    /// - Parameter firewallFilter: the per-interface filter the firewall defines, when it is on.
    public static func interface(_ interface: InterfaceSpec, mac: String, firewallFilter: String? = nil) -> Element {
        let type = interface.type ?? "network"
        let model = type == "vhostuser" ? "virtio" : interface.model ?? "virtio"
        return Element("interface", [("type", type)]) {
            Element("mac", [("address", mac)])
            switch type {
            case "bridge": Element("source", [("bridge", interface.source)])
            case "network": Element("source", [("network", interface.source ?? "default")])
            case "direct": Element("source", [("dev", interface.source), ("mode", interface.mode ?? "bridge")])
            case "vhostuser":
                Element("source", [("type", "unix"), ("path", interface.source), ("mode", interface.mode ?? "client")])
            default: [Element]()
            }
            if let target = interface.target { Element("target", [("dev", target)]) }
            Element("model", [("type", model)])
            if let queues = interface.queues, model == "virtio" {
                Element("driver", [("name", type == "vhostuser" ? nil : "vhost"), ("queues", String(queues))])
            }
            if let firewallFilter {
                Element("filterref", [("filter", firewallFilter)])
            } else if let filter = interface.filter {
                Element("filterref", [("filter", filter.name)]) {
                    for name in filter.parameters.keys.sorted() {
                        Element("parameter", [("name", name), ("value", filter.parameters[name])])
                    }
                }
            }
            if let mtu = interface.mtu { Element("mtu", [("size", String(mtu))]) }
        }
    }
}
