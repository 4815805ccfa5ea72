import GuestConfig

/// A parsed domain document against the spec it was rendered from: only elements the
/// renderer writes, as many of each as the spec asks for (counted from the spec, not from the
/// builders), and each string of the spec, unchanged, in the one place it belongs.
struct DomainShape {
    typealias Violation = GuestSpecOracle.Violation

    let definition: GuestDefinition
    let domain: ParsedElement
    var spec: GuestSpec { definition.spec }

    /// Every element path the renderer writes.
    static let knownPaths: Set<String> = {
        let domain = [
            "name", "uuid", "metadata", "metadata/virthost:guest", "metadata/virthost:guest/virthost:entry",
            "metadata/virthost-volumes:volumes", "metadata/virthost-volumes:volumes/virthost-volumes:volume",
            "metadata/virthost:labels", "metadata/virthost:labels/virthost:label",
            "memory", "currentMemory", "memoryBacking", "memoryBacking/source", "memoryBacking/access", "vcpu",
            "sysinfo", "sysinfo/system", "sysinfo/system/entry",
            "os", "os/type", "os/kernel", "os/initrd", "os/cmdline", "os/boot", "os/smbios",
            "features", "features/acpi", "features/apic", "features/vmcoreinfo",
            "cpu", "cpu/model", "cpu/vendor", "cpu/topology", "cpu/feature",
            "clock", "clock/timer", "on_poweroff", "on_reboot", "on_crash", "devices",
        ]
        let devices = [
            "disk", "disk/driver", "disk/source", "disk/source/host", "disk/target", "disk/iotune", "disk/boot",
            "disk/readonly", "disk/serial", "controller",
            "interface", "interface/mac", "interface/source", "interface/target", "interface/model",
            "interface/driver", "interface/filterref", "interface/filterref/parameter", "interface/mtu",
            "serial", "serial/log", "serial/target", "console", "console/target", "input",
            "graphics", "graphics/listen", "video", "video/model",
            "hostdev", "hostdev/source", "hostdev/source/address", "memballoon", "memballoon/stats", "rng", "rng/backend",
            "channel", "channel/target",
        ] + ["total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec"]
            .map { "disk/iotune/" + $0 }
        return Set(["domain"] + domain.map { "domain/" + $0 } + devices.map { "domain/devices/" + $0 })
    }()

    func check() throws(Violation) {
        var paths: [(String, ParsedElement)] = []
        collect(domain, prefix: "", into: &paths)
        if let (unknown, _) = paths.first(where: { !Self.knownPaths.contains($0.0) }) {
            throw Violation("element \(unknown) is not one the renderer writes")
        }
        if let (path, element) = paths.first(where: { !$0.1.otherNodes.isEmpty }) {
            throw Violation("\(path) holds nodes the renderer never writes (libxml2 node types \(element.otherNodes))")
        }
        try checkCounts()
        try checkIdentity()
        try checkOS()
        try checkCPU()
        try checkDisks()
        try checkInterfaces()
        try checkOtherDevices()
    }

    // MARK: Counts

    func checkCounts() throws(Violation) {
        let storage = spec.storage
        let diskCount = (storage.root == nil ? 0 : 1) + storage.ephemeral.count + (storage.swap == nil ? 0 : 1)
            + storage.volumes.count + (storage.configDrive == nil ? 0 : 1) + spec.disks.count
        let hasDisplay = spec.graphics.type != "none"
        // The volumes the service made: managed roles resolved to volume disks.
        let madeVolumes = StorageConfig.orderedDisks(spec).filter {
            ManagedVolumes.isManaged($0.spec) && $0.spec.volumeSource != nil
        }.count + (ManagedVolumes.firstBootVolume(spec) == nil ? 0 : 1)
        let isX86 = definition.arch == "x86_64" || definition.arch == "i686"
        let counts: [(String, Int)] = [
            ("domain/name", 1), ("domain/uuid", 1),
            ("domain/metadata", spec.metadata.isEmpty && spec.labels.isEmpty && madeVolumes == 0 ? 0 : 1),
            ("domain/metadata/virthost-volumes:volumes/virthost-volumes:volume", madeVolumes),
            ("domain/metadata/virthost:guest", spec.metadata.isEmpty ? 0 : 1),
            ("domain/metadata/virthost:guest/virthost:entry", spec.metadata.count),
            ("domain/metadata/virthost:labels", spec.labels.isEmpty ? 0 : 1),
            ("domain/metadata/virthost:labels/virthost:label", spec.labels.count),
            ("domain/memory", 1), ("domain/currentMemory", 1),
            ("domain/memoryBacking", spec.interfaces.contains { $0.type == "vhostuser" } ? 1 : 0),
            ("domain/vcpu", 1), ("domain/sysinfo", 1),
            ("domain/sysinfo/system/entry", 5 + (spec.sysinfo.version == nil ? 0 : 1)),
            ("domain/os", 1), ("domain/os/type", 1), ("domain/os/smbios", 1),
            ("domain/os/kernel", spec.os.kernel == nil ? 0 : 1), ("domain/os/initrd", spec.os.initrd == nil ? 0 : 1),
            ("domain/os/cmdline", spec.os.cmdline == nil ? 0 : 1), ("domain/os/boot", expectedBootDevices.count),
            ("domain/features", 1), ("domain/features/acpi", spec.features.acpi ? 1 : 0),
            ("domain/features/apic", spec.features.apic && isX86 ? 1 : 0),
            ("domain/features/vmcoreinfo", spec.features.vmcoreinfo && isX86 ? 1 : 0),
            ("domain/cpu", 1), ("domain/cpu/topology", 1), ("domain/cpu/feature", spec.cpu.features.count),
            ("domain/cpu/model", definition.cpuMode == "custom" && spec.cpu.model != nil ? 1 : 0),
            ("domain/cpu/vendor", spec.cpu.vendor == nil ? 0 : 1),
            ("domain/clock", 1), ("domain/clock/timer", isX86 ? 3 : 0),
            ("domain/on_poweroff", 1), ("domain/on_reboot", 1), ("domain/on_crash", 1), ("domain/devices", 1),
            ("domain/devices/disk", diskCount),
            ("domain/devices/controller", definition.disks.contains { $0.bus == "scsi" } ? 1 : 0),
            ("domain/devices/interface", spec.interfaces.count),
            ("domain/devices/hostdev", spec.pciDevices.count),
            ("domain/devices/serial", spec.serial.enabled ? 1 : 0), ("domain/devices/console", spec.serial.enabled ? 1 : 0),
            ("domain/devices/serial/log", spec.serial.enabled && spec.serial.logFile != nil ? 1 : 0),
            ("domain/devices/input", spec.input.tablet ?? hasDisplay ? 1 : 0),
            ("domain/devices/graphics", hasDisplay ? 1 : 0),
            ("domain/devices/video", (spec.video.model ?? (hasDisplay ? "virtio" : "none")) == "none" ? 0 : 1),
            ("domain/devices/memballoon", 1),
            ("domain/devices/memballoon/stats", spec.memballoon.enabled && spec.memballoon.statsPeriodSeconds > 0 ? 1 : 0),
            ("domain/devices/rng", spec.rng.enabled ? 1 : 0),
            ("domain/devices/channel", spec.agent ? 1 : 0),
        ]
        for (path, expected) in counts {
            let found = all(path).count
            guard found == expected else { throw Violation("\(found) × \(path), the spec asks for \(expected)") }
        }
    }

    var expectedBootDevices: [String] {
        let deviceOrder = StorageConfig.orderedDisks(spec).contains { $0.spec.bootOrder != nil }
        return spec.os.boot.isEmpty && !deviceOrder && spec.os.kernel == nil ? ["hd"] : spec.os.boot
    }

    // MARK: Strings in their places

    func checkIdentity() throws(Violation) {
        try expect(domain.attribute("type"), definition.virtType, "domain/@type")
        try expect(one("domain/name").text, spec.name, "domain/name")
        try expect(one("domain/uuid").text, spec.uuid?.lowercased() ?? GuestSpecOracle.uuid, "domain/uuid")
        try expect(one("domain/memory").text, String(spec.maxMemoryMB ?? spec.memoryMB), "domain/memory")
        try expect(one("domain/currentMemory").text, String(spec.memoryMB), "domain/currentMemory")
        try expect(one("domain/vcpu").text, String(spec.maxVCPUs ?? spec.vcpus), "domain/vcpu")
        if (spec.maxVCPUs ?? spec.vcpus) > spec.vcpus {
            try expect(one("domain/vcpu").attribute("current"), String(spec.vcpus), "domain/vcpu/@current")
        } else if let current = one("domain/vcpu").attribute("current") {
            throw Violation("domain/vcpu/@current: \(current.debugDescription), the spec has no room to grow")
        }
        let entries = all("domain/metadata/virthost:guest/virthost:entry").map { [$0.attribute("key") ?? "", $0.text] }
        try expectSame(entries, spec.metadata.map { [$0.key, $0.value] }, "metadata entries")
        let labels = all("domain/metadata/virthost:labels/virthost:label").map { [$0.attribute("key") ?? "", $0.text] }
        try expectSame(labels, spec.labels.map { [$0.key, $0.value] }, "labels")
        let sysinfo = all("domain/sysinfo/system/entry").map { [$0.attribute("name") ?? "", $0.text] }
        let info = spec.sysinfo
        let expected: [(String, String?)] = [
            ("manufacturer", info.manufacturer ?? SysinfoConfig.defaultManufacturer),
            ("product", info.product ?? SysinfoConfig.defaultProduct), ("version", info.version),
            ("serial", info.serial ?? definition.uuid), ("uuid", definition.uuid),
            ("family", info.family ?? SysinfoConfig.defaultFamily),
        ]
        try expectSame(sysinfo, expected.compactMap { name, value in value.map { [name, $0] } }, "sysinfo entries")
    }

    func checkOS() throws(Violation) {
        let os = spec.os
        try expect(one("domain/os/type").attribute("arch"), definition.arch, "domain/os/type/@arch")
        for (name, value) in [("kernel", os.kernel), ("initrd", os.initrd), ("cmdline", os.cmdline)] {
            guard let value else { continue }
            try expect(one("domain/os/" + name).text, value, "domain/os/" + name)
            if name != "cmdline" { try checkDiskPath(value, "domain/os/" + name) }
        }
        try expect(all("domain/os/boot").map { $0.attribute("dev") ?? "" }.joined(separator: ","),
                   expectedBootDevices.joined(separator: ","), "domain/os/boot")
    }

    func checkCPU() throws(Violation) {
        let cpu = spec.cpu
        if let model = cpu.model, definition.cpuMode == "custom" { try expect(one("domain/cpu/model").text, model, "domain/cpu/model") }
        if let vendor = cpu.vendor { try expect(one("domain/cpu/vendor").text, vendor, "domain/cpu/vendor") }
        let features = all("domain/cpu/feature").map { [$0.attribute("name") ?? "", $0.attribute("policy") ?? ""] }
        guard bytes(features) == bytes(cpu.features.map({ [$0.name, $0.policy] })) else {
            throw Violation("domain/cpu/feature: \(features), the spec asks for \(cpu.features)")
        }
    }

    func checkDisks() throws(Violation) {
        let ordered = StorageConfig.orderedDisks(spec)
        let elements = all("domain/devices/disk")
        var targets: Set<String> = []
        for (index, (element, settled)) in zip(elements, definition.disks).enumerated() {
            let at = "domain/devices/disk[\(index)]"
            let disk = ordered[index].spec
            let type = disk.type ?? (disk.networkSource != nil ? "network" : disk.volumeSource != nil ? "volume" : "file")
            try expect(element.attribute("type"), type, at + "/@type")
            let sources = element.children.filter { $0.name == "source" }
            // A CD-ROM file drive defined empty (no source in the spec) has no <source>: a
            // medium is inserted later.
            if type == "file", settled.device == "cdrom", disk.path == nil {
                guard sources.isEmpty else { throw Violation("\(at): an empty CD-ROM drive with \(sources.count) sources") }
            } else {
                guard sources.count == 1 else { throw Violation("\(at): \(sources.count) sources") }
            }
            switch type {
            case "file" where sources.isEmpty:
                break
            case "file", "block":
                let source = sources[0]
                let path = disk.path ?? ""
                try expect(source.attribute(type == "file" ? "file" : "dev"), path, at + "/source")
                try checkDiskPath(path, at + "/source")
                guard source.children.isEmpty else { throw Violation("\(at)/source has children") }
            case "volume":
                let source = sources[0]
                guard let volume = disk.volumeSource else { throw Violation("\(at): a volume disk without a source") }
                try expect(source.attribute("pool"), volume.pool, at + "/source/@pool")
                try expect(source.attribute("volume"), volume.volume, at + "/source/@volume")
                guard source.children.isEmpty else { throw Violation("\(at)/source has children") }
            default:
                let source = sources[0]
                guard let network = disk.networkSource else { throw Violation("\(at): a network disk without a source") }
                try expect(source.attribute("protocol"), network.protocol, at + "/source/@protocol")
                try expect(source.attribute("name"), network.name, at + "/source/@name")
                let hosts = source.children.map { [$0.attribute("name") ?? "", $0.attribute("port") ?? "-"] }
                guard bytes(hosts) == bytes(network.hosts.map({ [$0.name, $0.port.map(String.init) ?? "-"] })) else {
                    throw Violation("\(at)/source/host: \(hosts), the spec asks for \(network.hosts)")
                }
            }
            let target = try only(element, "target", at).attribute("dev") ?? ""
            guard target.utf8.elementsEqual(settled.target.utf8), Self.isTargetName(target),
                  targets.insert(target).inserted else {
                throw Violation("\(at): target \(target.debugDescription) is not \(settled.target.debugDescription), "
                                + "is not a device name, or is taken twice")
            }
            try expectChildren(element, "serial", disk.serial.map { [$0] } ?? [], at) { $0.text }
            try expectChildren(element, "boot", disk.bootOrder.map { [String($0)] } ?? [], at) { $0.attribute("order") ?? "" }
            let limits = [disk.iotune?.totalBytesSec, disk.iotune?.readBytesSec, disk.iotune?.writeBytesSec,
                          disk.iotune?.totalIOPSSec, disk.iotune?.readIOPSSec, disk.iotune?.writeIOPSSec].compactMap { $0 }
            let tunes = element.children.filter { $0.name == "iotune" }
            guard tunes.count == (limits.isEmpty ? 0 : 1), tunes.flatMap(\.children).map(\.text) == limits.map(String.init) else {
                throw Violation("\(at)/iotune: \(tunes), the spec asks for \(limits)")
            }
            let readonly = settled.spec.readonly || settled.device == "cdrom"
            try expectChildren(element, "readonly", readonly ? [""] : [], at) { $0.text }
        }
    }

    func checkInterfaces() throws(Violation) {
        var macs: Set<String> = []
        for (index, (element, interface)) in zip(all("domain/devices/interface"), spec.interfaces).enumerated() {
            let at = "domain/devices/interface[\(index)]"
            let type = interface.type ?? "network"
            try expect(element.attribute("type"), type, at + "/@type")
            let mac = try only(element, "mac", at).attribute("address") ?? ""
            guard mac == definition.macs[index], macs.insert(mac).inserted,
                  let first = UInt8(mac.prefix(2), radix: 16), first & 1 == 0 else {
                throw Violation("\(at)/mac: \(mac) is not \(definition.macs[index]), is not unicast, or is taken twice")
            }
            let sources = element.children.filter { $0.name == "source" }
            let expectedSource: [(String, String?)] = switch type {
            case "bridge": [("bridge", interface.source)]
            case "network": [("network", interface.source ?? "default")]
            case "direct": [("dev", interface.source), ("mode", interface.mode ?? "bridge")]
            case "vhostuser": [("type", "unix"), ("path", interface.source), ("mode", interface.mode ?? "client")]
            default: []
            }
            guard sources.count == (expectedSource.isEmpty ? 0 : 1) else { throw Violation("\(at): \(sources.count) sources") }
            for (name, value) in expectedSource {
                try expect(sources.first?.attribute(name), value ?? "", "\(at)/source/@\(name)")
            }
            try expectChildren(element, "target", interface.target.map { [$0] } ?? [], at) { $0.attribute("dev") ?? "" }
            try expectChildren(element, "mtu", interface.mtu.map { [String($0)] } ?? [], at) { $0.attribute("size") ?? "" }
            let filterrefs = element.children.filter { $0.name == "filterref" }
            if let filterName = definition.firewallFilters[index] {
                guard filterrefs.count == 1, filterrefs[0].attribute("filter") == filterName, filterrefs[0].children.isEmpty else {
                    throw Violation("\(at)/filterref: \(filterrefs), the firewall asks for \(filterName) alone")
                }
            } else if let filter = interface.filter {
                guard filterrefs.count == 1 else { throw Violation("\(at): \(filterrefs.count) filterrefs") }
                try expect(filterrefs[0].attribute("filter"), filter.name, at + "/filterref/@filter")
                try expectSame(filterrefs[0].children.map { [$0.attribute("name") ?? "", $0.attribute("value") ?? ""] },
                               filter.parameters.map { [$0.key, $0.value] }, at + "/filterref/parameter")
            } else if !filterrefs.isEmpty {
                throw Violation("\(at): a filterref the spec did not ask for")
            }
        }
    }

    func checkOtherDevices() throws(Violation) {
        for (index, (element, device)) in zip(all("domain/devices/hostdev"), spec.pciDevices).enumerated() {
            let at = "domain/devices/hostdev[\(index)]"
            try expect(element.attribute("managed"), device.managed ? "yes" : "no", at + "/@managed")
            guard let parts = device.parts else { throw Violation("\(at): an invalid PCI address was accepted") }
            let address = try only(try only(element, "source", at), "address", at + "/source")
            let found = ["domain", "bus", "slot", "function"].map { address.attribute($0).flatMap { Int($0.dropFirst(2), radix: 16) } }
            guard found == [parts.domain, parts.bus, parts.slot, parts.function] else {
                throw Violation("\(at)/source/address: \(address), the spec asks for \(device.address)")
            }
        }
        if spec.agent {
            try expect(one("domain/devices/channel/target").attribute("name"), "org.qemu.guest_agent.0",
                       "domain/devices/channel/target/@name")
        }
        if let cmdline = spec.os.cmdline,
           cmdline.utf8.count > OSSpec.cmdlineMaxBytes || cmdline.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw Violation("domain/os/cmdline: a command line too long or with control characters was accepted")
        }
        if spec.serial.enabled, let logFile = spec.serial.logFile {
            try expect(one("domain/devices/serial/log").attribute("file"), logFile, "domain/devices/serial/log/@file")
        }
        if spec.graphics.type != "none" {
            let graphics = one("domain/devices/graphics")
            try expect(graphics.attribute("type"), spec.graphics.type, "domain/devices/graphics/@type")
            try expect(graphics.attribute("listen"), spec.graphics.listen, "domain/devices/graphics/@listen")
            try expect(one("domain/devices/graphics/listen").attribute("address"), spec.graphics.listen,
                       "domain/devices/graphics/listen/@address")
        }
    }

    /// A file or block path that validation let through is absolute, has no empty, `.` or
    /// `..` component, and is an allowed root or lies inside one (compared byte by byte).
    func checkDiskPath(_ path: String, _ at: String) throws(Violation) {
        let bytes = Array(path.utf8)
        let components = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        let canonical = bytes.first == UInt8(ascii: "/")
            && components.allSatisfy { !$0.isEmpty && !$0.elementsEqual(".".utf8) && !$0.elementsEqual("..".utf8) }
        let inside = GuestSpecOracle.allowedDiskRoots.contains { root in
            bytes.elementsEqual(root.utf8) || bytes.starts(with: Array(root.utf8) + [UInt8(ascii: "/")])
        }
        guard canonical, inside else { throw Violation("\(at): \(path.debugDescription) was accepted as a disk path") }
    }

    /// `vd`, `sd` or `hd` and one to three of `a`…`z`, in ASCII.
    static func isTargetName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return bytes.count >= 3 && bytes.count <= 5 && ["vd", "sd", "hd"].contains { bytes.starts(with: $0.utf8) }
            && bytes.dropFirst(2).allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
    }

    // MARK: Helpers

    /// Strings as bytes, so comparisons are exact (Swift's `==` is canonical equivalence).
    func bytes(_ rows: [[String]]) -> [[[UInt8]]] { rows.map { $0.map { Array($0.utf8) } } }

    func collect(_ element: ParsedElement, prefix: String, into paths: inout [(String, ParsedElement)]) {
        let path = prefix.isEmpty ? element.name : prefix + "/" + element.name
        paths.append((path, element))
        for child in element.children { collect(child, prefix: path, into: &paths) }
    }

    /// The elements at a path such as `domain/devices/disk`.
    func all(_ path: String) -> [ParsedElement] {
        var names = path.split(separator: "/").map(String.init)
        guard names.first == domain.name else { return [] }
        names.removeFirst()
        var found = [domain]
        for name in names { found = found.flatMap { $0.children.filter { $0.name == name } } }
        return found
    }

    /// The one element at a path (the counts were checked before).
    func one(_ path: String) -> ParsedElement {
        all(path).first ?? ParsedElement(name: "", attributes: [], text: "", children: [], otherNodes: [])
    }

    func only(_ element: ParsedElement, _ name: String, _ at: String) throws(Violation) -> ParsedElement {
        let found = element.children.filter { $0.name == name }
        guard found.count == 1 else { throw Violation("\(at): \(found.count) × \(name), expected one") }
        return found[0]
    }

    /// Spec strings must come back unchanged: validation refuses what XML cannot carry.
    func expect(_ found: String?, _ expected: String, _ at: String) throws(Violation) {
        guard let found, found.utf8.elementsEqual(expected.utf8) else {
            throw Violation("\(at): \(found?.debugDescription ?? "nothing"), the spec has \(expected.debugDescription)")
        }
    }

    func expectSame(_ found: [[String]], _ expected: [[String]], _ at: String) throws(Violation) {
        func sorted(_ rows: [[String]]) -> [[[UInt8]]] {
            bytes(rows).sorted { $0.joined(separator: [0]).lexicographicallyPrecedes($1.joined(separator: [0])) }
        }
        guard sorted(found) == sorted(expected) else { throw Violation("\(at): \(found), the spec has \(expected)") }
    }

    func expectChildren(_ element: ParsedElement, _ name: String, _ expected: [String], _ at: String,
                        _ value: (ParsedElement) -> String) throws(Violation) {
        let found = element.children.filter { $0.name == name }.map(value)
        guard bytes([found]) == bytes([expected]) else { throw Violation("\(at)/\(name): \(found), the spec has \(expected)") }
    }
}
