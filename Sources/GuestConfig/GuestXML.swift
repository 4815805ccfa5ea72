/// Nova's `_get_guest_config` and `_get_guest_xml`: the whole domain, composed from the
/// builders, in the element order libvirt documents.
public enum GuestXML {
    /// The service's XML namespace for `<metadata>`.
    public static let metadataNamespace = "https://virthost.dev/xmlns/guest/1.0"

    /// The `<domain>` element tree.
    public static func config(_ definition: GuestDefinition) -> Element {
        let spec = definition.spec
        let isX86 = definition.arch == "x86_64" || definition.arch == "i686"
        let vhostUser = spec.interfaces.contains { $0.type == "vhostuser" }
        return Element("domain", [("type", definition.virtType)]) {
            Element.text("name", spec.name)
            Element.text("uuid", definition.uuid)
            let madeVolumes = ManagedVolumes.metadata(spec)
            if !spec.metadata.isEmpty || !spec.labels.isEmpty || madeVolumes != nil {
                Element("metadata") {
                    if !spec.metadata.isEmpty { metadataEntries(spec.metadata) }
                    if !spec.labels.isEmpty { labelEntries(spec.labels) }
                    if let madeVolumes { madeVolumes }
                }
            }
            Element.text("memory", String(spec.memoryMaximumMB), [("unit", "MiB")])
            Element.text("currentMemory", String(spec.memoryMB), [("unit", "MiB")])
            if vhostUser {
                // vhost-user back ends read guest memory: it must be shared.
                Element("memoryBacking") {
                    Element("source", [("type", "memfd")])
                    Element("access", [("mode", "shared")])
                }
            }
            Element.text("vcpu", String(spec.vcpusMaximum), [("placement", "static"),
                ("current", spec.vcpusMaximum > spec.vcpus ? String(spec.vcpus) : nil)])
            SysinfoConfig.sysinfo(definition)
            os(definition)
            features(spec.features, isX86: isX86)
            CPUConfig.cpu(definition)
            clock(spec.clock, isX86: isX86)
            Element.text("on_poweroff", "destroy")
            Element.text("on_reboot", "restart")
            Element.text("on_crash", "destroy")
            devices(definition)
        }
    }

    /// The nwfilter document of each interface whose firewall is on, by filter name.
    public static func firewallFilters(_ definition: GuestDefinition) -> [(name: String, xml: String)] {
        definition.firewallFilters.keys.sorted().compactMap { index in
            guard let name = definition.firewallFilters[index],
                  let firewall = definition.spec.interfaces[index].firewall else { return nil }
            return (name, FirewallConfig.filter(name: name, firewall: firewall).serialized())
        }
    }

    /// The domain XML document.
    public static func xml(_ definition: GuestDefinition) -> String {
        config(definition).serialized()
    }

    /// The labels' namespace, the one `PATCH /v1/domains/{ref}` keeps them in.
    public static let labelsNamespace = "https://virthost.dev/xmlns/labels/1"

    static func labelEntries(_ labels: [String: String]) -> Element {
        Element("virthost:labels", [("xmlns:virthost", labelsNamespace)]) {
            for key in labels.keys.sorted() {
                Element.text("virthost:label", labels[key] ?? "", [("key", key)])
            }
        }
    }

    static func metadataEntries(_ entries: [String: String]) -> Element {
        Element("virthost:guest", [("xmlns:virthost", metadataNamespace)]) {
            for key in entries.keys.sorted() {
                Element.text("virthost:entry", entries[key] ?? "", [("key", key)])
            }
        }
    }

    static func os(_ definition: GuestDefinition) -> Element {
        let os = definition.spec.os
        let hasDeviceBootOrder = definition.disks.contains { $0.spec.bootOrder != nil }
        let boot = os.boot.isEmpty && !hasDeviceBootOrder && os.kernel == nil ? ["hd"] : os.boot
        return Element("os", [("firmware", definition.firmware == "efi" ? "efi" : nil)]) {
            Element.text("type", "hvm", [("arch", definition.arch), ("machine", definition.machine)])
            if let kernel = os.kernel { Element.text("kernel", kernel) }
            if let initrd = os.initrd { Element.text("initrd", initrd) }
            if let cmdline = os.cmdline { Element.text("cmdline", cmdline) }
            for device in boot { Element("boot", [("dev", device)]) }
            if os.bootMenu { Element("bootmenu", [("enable", "yes"), ("timeout", "3000")]) }
            Element("smbios", [("mode", "sysinfo")])
            if os.serialBios { Element("bios", [("useserial", "yes")]) }
        }
    }

    static func features(_ features: FeaturesSpec, isX86: Bool) -> Element {
        Element("features") {
            if features.acpi { Element("acpi") }
            if features.apic, isX86 { Element("apic") }
            if features.vmcoreinfo, isX86 { Element("vmcoreinfo", [("state", "on")]) }
        }
    }

    /// UTC, and on x86 Nova's timers: PIT ticks delayed, RTC catching up, no HPET.
    static func clock(_ clock: ClockSpec, isX86: Bool) -> Element {
        Element("clock", [("offset", clock.offset)]) {
            if isX86 {
                Element("timer", [("name", "pit"), ("tickpolicy", "delay")])
                Element("timer", [("name", "rtc"), ("tickpolicy", "catchup")])
                Element("timer", [("name", "hpet"), ("present", "no")])
            }
        }
    }

    static func devices(_ definition: GuestDefinition) -> Element {
        let spec = definition.spec
        let videoModel = spec.video.model ?? (definition.hasDisplay ? "virtio" : "none")
        return Element("devices") {
            for disk in definition.disks { DiskConfig.disk(disk) }
            DiskConfig.controllers(definition.disks)
            for (index, interface) in spec.interfaces.enumerated() {
                InterfaceConfig.interface(interface, mac: definition.macs[index],
                                          firewallFilter: definition.firewallFilters[index])
            }
            if spec.serial.enabled {
                Element("serial", [("type", "pty")]) {
                    if let logFile = definition.serialLogFile { Element("log", [("file", logFile), ("append", "on")]) }
                    Element("target", [("port", "0")])
                }
                Element("console", [("type", "pty")]) {
                    Element("target", [("type", "serial"), ("port", "0")])
                }
            }
            if spec.agent {
                Element("channel", [("type", "unix")]) {
                    Element("target", [("type", "virtio"), ("name", "org.qemu.guest_agent.0")])
                }
            }
            if spec.input.tablet ?? definition.hasDisplay { Element("input", [("type", "tablet"), ("bus", "usb")]) }
            if definition.hasDisplay {
                Element("graphics", [("type", spec.graphics.type), ("autoport", "yes"), ("listen", spec.graphics.listen)]) {
                    Element("listen", [("type", "address"), ("address", spec.graphics.listen)])
                }
            }
            if videoModel != "none" {
                Element("video") { Element("model", [("type", videoModel)]) }
            }
            for device in spec.pciDevices { PCIDeviceConfig.hostdev(device) }
            if spec.memballoon.enabled {
                Element("memballoon", [("model", "virtio")]) {
                    if spec.memballoon.statsPeriodSeconds > 0 {
                        Element("stats", [("period", String(spec.memballoon.statsPeriodSeconds))])
                    }
                }
            } else {
                Element("memballoon", [("model", "none")])
            }
            if spec.rng.enabled {
                Element("rng", [("model", "virtio")]) {
                    Element.text("backend", "/dev/urandom", [("model", "random")])
                }
            }
        }
    }
}
