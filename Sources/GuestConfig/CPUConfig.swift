/// Nova's `_get_guest_cpu_model_config` and `_get_guest_cpu_config`: the `<cpu>` element.
public enum CPUConfig {
    /// The model part: mode, and for `custom` the named model with `fallback='forbid'`, so
    /// libvirt never silently substitutes another.
    public static func modelAttributes(mode: String) -> [(String, String?)] {
        switch mode {
        case "custom": [("mode", "custom"), ("match", "exact"), ("check", "partial")]
        case "host-passthrough": [("mode", "host-passthrough"), ("check", "none"), ("migratable", "on")]
        default: [("mode", mode), ("check", "partial")]
        }
    }

    /// The whole `<cpu>`: model, vendor, topology, then features, in libvirt's order.
    public static func cpu(_ definition: GuestDefinition) -> Element {
        let cpu = definition.spec.cpu
        let topology = definition.topology
        return Element("cpu", modelAttributes(mode: definition.cpuMode)) {
            if definition.cpuMode == "custom", let model = cpu.model {
                Element.text("model", model, [("fallback", "forbid")])
            }
            if let vendor = cpu.vendor { Element.text("vendor", vendor) }
            Element("topology", [("sockets", String(topology.sockets)), ("dies", "1"),
                                 ("cores", String(topology.cores)), ("threads", String(topology.threads))])
            for feature in cpu.features {
                Element("feature", [("policy", feature.policy), ("name", feature.name)])
            }
        }
    }
}

/// Nova's `_get_guest_config_sysinfo`: SMBIOS system information, which `<os><smbios
/// mode='sysinfo'/>` points the guest at.
public enum SysinfoConfig {
    public static let defaultManufacturer = "virthost"
    public static let defaultProduct = "virthost guest"
    public static let defaultFamily = "Virtual Machine"

    public static func sysinfo(_ definition: GuestDefinition) -> Element {
        let sysinfo = definition.spec.sysinfo
        let entries: [(String, String?)] = [
            ("manufacturer", sysinfo.manufacturer ?? defaultManufacturer),
            ("product", sysinfo.product ?? defaultProduct),
            ("version", sysinfo.version),
            ("serial", sysinfo.serial ?? definition.uuid),
            // libvirt refuses a system UUID that differs from the domain's.
            ("uuid", definition.uuid),
            ("family", sysinfo.family ?? defaultFamily),
        ]
        return Element("sysinfo", [("type", "smbios")]) {
            Element("system") {
                for (name, value) in entries {
                    if let value { Element.text("entry", value, [("name", name)]) }
                }
            }
        }
    }
}

/// Nova's `_get_guest_pci_device`: a host PCI device passed through (`<hostdev>`).
public enum PCIDeviceConfig {
    public static func hostdev(_ device: PCIDeviceSpec) -> Element? {
        guard let parts = device.parts else { return nil }
        func hex(_ value: Int, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        return Element("hostdev", [("mode", "subsystem"), ("type", "pci"), ("managed", device.managed ? "yes" : "no")]) {
            Element("source") {
                Element("address", [("domain", hex(parts.domain, 4)), ("bus", hex(parts.bus, 2)),
                                    ("slot", hex(parts.slot, 2)), ("function", hex(parts.function, 1))])
            }
        }
    }
}
