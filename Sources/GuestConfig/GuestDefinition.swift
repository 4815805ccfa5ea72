import FoundationEssentials

/// A guest spec with every default settled and every rule checked: what the builders render.
/// Creating one reports all field errors at once (``GuestSpecError``).
public struct GuestDefinition: Sendable, Hashable {
    public var spec: GuestSpec
    public var uuid: String
    public var arch: String
    public var machine: String?
    public var virtType: String
    public var firmware: String
    public var cpuMode: String
    public var topology: CPUSpec.Topology
    public var disks: [StorageConfig.Disk]
    public var macs: [String]
    public var hasDisplay: Bool
    /// Per interface index, the filter its firewall defines (only for interfaces with the
    /// firewall on).
    public var firewallFilters: [Int: String]
    /// The service's console-log directory: the serial port logs to `NAME-serial0.log` there
    /// unless the spec names its own `serial.log_file`; nil logs nothing by default.
    public var consoleLogDirectory: String? = nil

    /// The serial console's log file, if it has one.
    public var serialLogFile: String? {
        spec.serial.logFile ?? consoleLogDirectory.map { directory in
            (directory.hasSuffix("/") ? directory : directory + "/") + spec.name + "-serial0.log"
        }
    }

    /// - Parameters:
    ///   - host: what the host offers; nil skips the checks against it.
    ///   - policy: where disks may live; nil skips the path checks.
    ///   - pointer: where the spec sits in the request body (`/spec`), for error pointers.
    ///   - readErrors: errors found while reading the spec, reported with these.
    public init(_ spec: GuestSpec, host: HostProfile? = nil, policy: ValidationPolicy? = nil,
                pointer: String = "", readErrors: [FieldError] = []) throws(GuestSpecError) {
        var errors = readErrors
        func fail(_ path: String, _ detail: String) { errors.append(FieldError(pointer: pointer + path, detail: detail)) }

        let arch = spec.os.arch ?? host?.arch ?? "x86_64"
        let machine = spec.os.machine ?? HostProfile.defaultMachine(arch: arch, host: host)
        var spec = spec
        // The first-boot CD-ROM goes on a bus the machine has built in: IDE on i440FX (`pc`),
        // SATA (AHCI) on q35 and the others.
        if spec.firstBoot != nil, var drive = spec.storage.configDrive, drive.bus == nil {
            drive.bus = Self.isI440FX(machine) ? "ide" : "sata"
            spec.storage.configDrive = drive
        }
        self.spec = spec
        self.arch = arch
        self.machine = machine
        uuid = spec.uuid?.lowercased() ?? UUID().uuidString.lowercased()
        let isX86 = arch == "x86_64" || arch == "i686"
        virtType = spec.virtType ?? host?.defaultVirtType(arch: arch) ?? "kvm"
        firmware = spec.os.firmware ?? "bios"
        cpuMode = spec.cpu.mode ?? (spec.cpu.model != nil ? "custom" : "host-model")
        topology = spec.cpu.topology ?? CPUSpec.Topology(sockets: max(spec.vcpusMaximum, 1), cores: 1, threads: 1)
        disks = StorageConfig.disks(spec)
        hasDisplay = spec.graphics.type != "none"
        let uuid = uuid
        macs = spec.interfaces.enumerated().map { index, interface in
            interface.mac?.lowercased() ?? Self.derivedMAC(uuid: uuid, index: index)
        }
        var filters: [Int: String] = [:]
        for (index, interface) in spec.interfaces.enumerated() where interface.firewall?.enabled == true {
            filters[index] = FirewallConfig.filterName(uuid: uuid, mac: macs[index])
        }
        firewallFilters = filters

        // Identity and size.
        if !Self.isValidName(spec.name) {
            fail("/name", "must be 1 to 64 of letters, digits, '.', '_' and '-', got \(spec.name)")
        }
        if let given = spec.uuid, !Self.isValidUUID(given) {
            fail("/uuid", "must be a UUID like 6695eb01-f6a4-8304-79aa-97f2502e193f, got \(given)")
        }
        if spec.memoryMB <= 0 { fail("/memory_mb", "must be greater than 0, got \(spec.memoryMB)") }
        if spec.memoryMB > 16 * 1024 * 1024 { fail("/memory_mb", "must be at most 16777216 (16 TiB)") }
        let maxVCPUs = host?.offer?.maxVCPUs ?? host?.architectures[arch]?.maxCPUs
        if spec.vcpus < 1 {
            fail("/vcpus", "must be at least 1, got \(spec.vcpus)")
        } else if spec.vcpus > GuestSpec.vcpusRange.upperBound {
            fail("/vcpus", "must be at most \(GuestSpec.vcpusRange.upperBound), got \(spec.vcpus)")
        } else if let maxVCPUs, spec.vcpus > maxVCPUs {
            fail("/vcpus", "must be at most \(maxVCPUs), the host's maximum for this machine, got \(spec.vcpus)")
        }
        // Room to grow: at least what the domain starts with, within the host's maximum.
        if let maximum = spec.maxVCPUs {
            if maximum < spec.vcpus {
                fail("/max_vcpus", "must be at least vcpus (\(spec.vcpus)), got \(maximum)")
            } else if maximum > GuestSpec.vcpusRange.upperBound {
                fail("/max_vcpus", "must be at most \(GuestSpec.vcpusRange.upperBound), got \(maximum)")
            } else if let maxVCPUs, maximum > maxVCPUs {
                fail("/max_vcpus", "must be at most \(maxVCPUs), the host's maximum for this machine, got \(maximum)")
            }
        }
        if let maximum = spec.maxMemoryMB {
            if maximum < spec.memoryMB {
                fail("/max_memory_mb", "must be at least memory_mb (\(spec.memoryMB)), got \(maximum)")
            } else if maximum > GuestSpec.memoryMBRange.upperBound {
                fail("/max_memory_mb", "must be at most \(GuestSpec.memoryMBRange.upperBound) (16 TiB)")
            }
        }
        for key in spec.metadata.keys.sorted() where key.isEmpty || key.count > 128 {
            fail("/metadata", "keys must be 1 to 128 characters")
        }
        if spec.labels.count > DomainPatch.maximumLabels {
            fail("/labels", "a domain has at most \(DomainPatch.maximumLabels) labels, got \(spec.labels.count)")
        }
        for (key, value) in spec.labels.sorted(by: { $0.key < $1.key }) {
            let pointer = "/labels/" + ObjectReader.escape(key)
            if !DomainPatch.isValidLabelKey(key) {
                fail(pointer, "is not a label key: 1 to 63 letters, digits, '.', '_', '-' or '/', starting with a letter or digit")
            } else if value.unicodeScalars.count > DomainPatch.maximumLabelValueLength {
                fail(pointer, "must be at most \(DomainPatch.maximumLabelValueLength) characters")
            }
        }

        // Against the host's architectures, machines and domain types.
        if let host {
            if let architecture = host.architectures[arch] {
                if let machine, !architecture.machines.contains(machine) {
                    fail("/os/machine", "must be one the host offers for \(arch): "
                         + architecture.machines.sorted().joined(separator: ", "))
                }
                if !architecture.domainTypes.contains(virtType) {
                    fail("/virt_type", "must be one the host offers for \(arch): "
                         + architecture.domainTypes.joined(separator: ", "))
                }
            } else {
                fail("/os/arch", "must be one the host runs: " + host.architectures.keys.sorted().joined(separator: ", "))
            }
        } else if !["kvm", "qemu"].contains(virtType) {
            fail("/virt_type", "must be kvm or qemu, got \(virtType)")
        }
        // libvirt's schema, whatever the host: checked even when the host's lists were.
        if let given = spec.os.arch, !LibvirtFormats.architectures.contains(given) {
            fail("/os/arch", "must be an architecture libvirt knows, such as x86_64 or aarch64, got \(given)")
        }
        if let given = spec.os.machine, !LibvirtFormats.isMachineName(given) {
            fail("/os/machine", "must be a machine type of letters, digits, '_', '.' and '-', got \(given)")
        }

        // CPU.
        if cpuMode == "custom", spec.cpu.model == nil { fail("/cpu/model", "is required when mode is custom") }
        if cpuMode == "custom", let model = spec.cpu.model, LibvirtFormats.isBlank(model) {
            fail("/cpu/model", "must not be empty")
        }
        // libvirt: "CPU vendor specified without CPU model".
        if spec.cpu.vendor != nil, cpuMode != "custom" { fail("/cpu/vendor", "is only used with mode custom and a model") }
        if let vendor = spec.cpu.vendor, LibvirtFormats.isBlank(vendor) { fail("/cpu/vendor", "must not be empty") }
        if cpuMode != "custom", spec.cpu.model != nil { fail("/cpu/model", "is only used with mode custom") }
        if let offer = host?.offer {
            if !offer.cpuModes.contains(cpuMode) {
                fail("/cpu/mode", "must be one the host supports: \(offer.cpuModes.joined(separator: ", "))")
            }
            if cpuMode == "custom", let model = spec.cpu.model, !offer.cpuModels.contains(model) {
                fail("/cpu/model", "must be a model the host knows, e.g. \(offer.cpuModels.prefix(5).joined(separator: ", "))")
            }
        }
        for (index, feature) in spec.cpu.features.enumerated() {
            if feature.name.isEmpty {
                fail("/cpu/features/\(index)/name", "is required")
            } else if !LibvirtFormats.isCPUFeatureName(feature.name) {
                fail("/cpu/features/\(index)/name", "must be letters, digits, '-', '_' and '.', got \(feature.name)")
            }
        }
        if Set(spec.cpu.features.map(\.name)).count != spec.cpu.features.count {
            fail("/cpu/features", "names each feature once")
        }
        if let given = spec.cpu.topology {
            for (name, value) in [("sockets", given.sockets), ("cores", given.cores), ("threads", given.threads)] {
                if value < 1 {
                    fail("/cpu/topology/\(name)", "must be at least 1, got \(value)")
                } else if value > GuestSpec.vcpusRange.upperBound {
                    fail("/cpu/topology/\(name)", "must be at most \(GuestSpec.vcpusRange.upperBound), got \(value)")
                }
            }
            // Any whole numbers may come in: the product must not trap on overflow.
            let (partial, overflowed) = given.sockets.multipliedReportingOverflow(by: given.cores)
            let (product, overflowedAgain) = partial.multipliedReportingOverflow(by: given.threads)
            if overflowed || overflowedAgain || product != spec.vcpusMaximum {
                fail("/cpu/topology", "sockets × cores × threads (\(overflowed || overflowedAgain ? "too large" : String(product))) "
                     + (spec.maxVCPUs == nil ? "must equal vcpus (\(spec.vcpus))" : "must equal max_vcpus (\(spec.vcpusMaximum))"))
            }
        }

        // OS.
        if Set(spec.os.boot).count != spec.os.boot.count { fail("/os/boot", "names each device once") }
        if spec.os.initrd != nil, spec.os.kernel == nil { fail("/os/initrd", "needs a kernel") }
        if spec.os.cmdline != nil, spec.os.kernel == nil { fail("/os/cmdline", "needs a kernel") }
        if let cmdline = spec.os.cmdline {
            if cmdline.utf8.count > OSSpec.cmdlineMaxBytes {
                fail("/os/cmdline", "must be at most \(OSSpec.cmdlineMaxBytes) bytes, got \(cmdline.utf8.count)")
            }
            if cmdline.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                fail("/os/cmdline", "must not contain control characters")
            }
        }
        for (field, path) in [("kernel", spec.os.kernel), ("initrd", spec.os.initrd)] {
            if let path, let refusal = policy?.refusal(of: path) ?? Self.absolutePathRefusal(path) {
                fail("/os/\(field)", refusal)
            }
        }
        if firmware == "efi", !isX86, arch != "aarch64" { fail("/os/firmware", "efi is offered on x86_64 and aarch64") }

        // Disks.
        var targets: [String: String] = [:]
        var bootOrders: [Int: String] = [:]
        for disk in disks {
            let at = disk.pointer
            if let image = disk.spec.image {
                for (field, refusal) in image.refusals(at: at + "/image") { fail(field, refusal) }
            }
            if let size = disk.spec.sizeGB, !VolumeReference.sizeGBRange.contains(size) {
                fail(at + "/size_gb", "must be between 1 and \(VolumeReference.sizeGBRange.upperBound), got \(size)")
            }
            if disk.spec.image != nil || disk.spec.sizeGB != nil {
                if let type = disk.spec.type, type != "volume" {
                    fail(at + "/type", "must be volume or absent for a disk the service makes, got \(type)")
                } else if disk.spec.path != nil || disk.spec.networkSource != nil {
                    fail(at + "/source", "cannot be combined with image or size_gb: the service makes this disk")
                } else if disk.spec.volumeSource == nil {
                    // Only the host knows the instances pool: the API resolves these roles first.
                    fail(at, "is made by the service on the host: create or render it through the API")
                }
            }
            switch disk.type {
            case "volume":
                guard let source = disk.spec.volumeSource else {
                    if !errors.contains(where: { $0.pointer.hasPrefix(pointer + at + "/source") }),
                       disk.spec.image == nil, disk.spec.sizeGB == nil {
                        fail(at + "/source", "is required: {pool, volume}")
                    }
                    break
                }
                for (field, refusal) in source.refusals(at: at + "/source") { fail(field, refusal) }
            case "file", "block":
                guard let path = disk.spec.path else {
                    // A CD-ROM file drive may be empty: a medium is inserted later (`.../media`).
                    if disk.device == "cdrom", disk.type == "file", disk.spec.networkSource == nil,
                       disk.spec.volumeSource == nil { break }
                    // A source that could not be read has said so already.
                    if !errors.contains(where: { $0.pointer == pointer + at + "/source" }) {
                        fail(at + "/source", "is required: the \(disk.type == "file" ? "file" : "device") path")
                    }
                    break
                }
                if disk.spec.networkSource != nil { fail(at + "/source", "must be a path for a \(disk.type) disk") }
                if let refusal = policy?.refusal(of: path) ?? Self.absolutePathRefusal(path) {
                    fail(at + "/source", refusal)
                }
            default:
                guard let source = disk.spec.networkSource else {
                    fail(at + "/source", "is required: {protocol, name, hosts}")
                    break
                }
                if LibvirtFormats.isBlank(source.name) {
                    fail(at + "/source/name", "must not be empty")
                } else if source.protocol == "iscsi", (source.name.firstIndex(of: "/") ?? source.name.startIndex) == source.name.startIndex {
                    // libvirt: "can't split path '…' into pool name and image name".
                    fail(at + "/source/name", "must be the target's IQN, a '/' and the LUN (iqn.2004-04.com.example:disk/0), got \(source.name)")
                }
                if source.protocol != "rbd", source.hosts.isEmpty {
                    fail(at + "/source/hosts", "needs at least one host for \(source.protocol)")
                } else if source.protocol != "rbd", source.hosts.count > 1 {
                    // libvirt: "protocol '%s' accepts only one host".
                    fail(at + "/source/hosts", "must have exactly one host for \(source.protocol), got \(source.hosts.count)")
                }
                for (index, host) in source.hosts.enumerated() {
                    if host.name.isEmpty {
                        fail(at + "/source/hosts/\(index)/name", "must not be empty")
                    } else if !LibvirtFormats.isAddressOrHostName(host.name) {
                        fail(at + "/source/hosts/\(index)/name", "must be an IP address or a host name of letters, digits, '.' and '-', got \(host.name)")
                    }
                    if let port = host.port, !(1...65535).contains(port) {
                        fail(at + "/source/hosts/\(index)/port", "must be 1 to 65535, got \(port)")
                    }
                }
            }
            if disk.device == "cdrom", disk.bus == "virtio" { fail(at + "/bus", "a CD-ROM cannot be on virtio") }
            if let offer = host?.offer, !offer.diskBuses.isEmpty, !offer.diskBuses.contains(disk.bus) {
                fail(at + "/bus", "must be one the host offers for this machine: \(offer.diskBuses.joined(separator: ", "))")
            }
            if !Self.isValidTarget(disk.target) {
                fail(at + "/target", "must be a device name like vda or sdb, got \(disk.target)")
            } else if let other = targets[disk.target] {
                fail(at + "/target", "\(disk.target) is already the target of \(pointer + other)")
            } else {
                targets[disk.target] = disk.pointer
            }
            if let serial = disk.spec.serial, !LibvirtFormats.isDiskSerial(serial) {
                fail(at + "/serial", "must be 1 or more of letters, digits, ' ', '_', '.', '+' and '-', got \(serial)")
            }
            if let order = disk.spec.bootOrder {
                if order < 1 {
                    fail(at + "/boot_order", "must be at least 1, got \(order)")
                } else if order > DiskSpec.bootOrderRange.upperBound {
                    fail(at + "/boot_order", "must be at most \(DiskSpec.bootOrderRange.upperBound), got \(order)")
                } else if let other = bootOrders[order] {
                    fail(at + "/boot_order", "\(order) is already the boot order of \(pointer + other)")
                } else {
                    bootOrders[order] = disk.pointer
                }
                if !spec.os.boot.isEmpty {
                    fail(at + "/boot_order", "cannot be combined with os.boot (libvirt takes one or the other)")
                }
            }
            if let tune = disk.spec.iotune {
                for (name, value) in tune.limits {
                    if let value, value < 0 {
                        fail(at + "/iotune/\(name)", "must not be negative")
                    } else if let value, value > DiskSpec.IOTune.range.upperBound {
                        fail(at + "/iotune/\(name)", "must be at most \(DiskSpec.IOTune.range.upperBound), got \(value)")
                    }
                }
                // libvirt takes a total or the read and write limits, not both.
                if tune.totalBytesSec != nil, tune.readBytesSec != nil || tune.writeBytesSec != nil {
                    fail(at + "/iotune/total_bytes_sec", "cannot be combined with read_bytes_sec or write_bytes_sec")
                }
                if tune.totalIOPSSec != nil, tune.readIOPSSec != nil || tune.writeIOPSSec != nil {
                    fail(at + "/iotune/total_iops_sec", "cannot be combined with read_iops_sec or write_iops_sec")
                }
            }
        }

        // First-boot data.
        if let firstBoot = spec.firstBoot {
            if spec.storage.configDrive == nil {
                // Only the host knows the instances pool: the API resolves the disk first.
                fail("/first_boot", "is a disk made by the service on the host: create or render it through the API")
            } else if ManagedVolumes.firstBootVolume(spec) == nil {
                fail("/first_boot", "cannot be combined with storage.config_drive: the service makes the config drive")
            }
            errors += firstBoot.refusals(pointer: pointer + "/first_boot")
            // The files are made only of data with no error at all (read errors included).
            if !errors.contains(where: { $0.pointer.hasPrefix(pointer + "/first_boot") }) {
                let total = FirstBootFiles(firstBoot, name: spec.name, uuid: uuid, macs: macs).totalBytes
                if total > FirstBootSpec.maximumTotalBytes {
                    fail("/first_boot", "makes \(total) bytes of files; together they must stay under \(FirstBootSpec.maximumTotalBytes) (64 KiB)")
                }
            }
        }

        // Interfaces.
        var seenMACs: [String: Int] = [:]
        for (index, interface) in spec.interfaces.enumerated() {
            let at = "/interfaces/\(index)"
            let mac = macs[index]
            if !Self.isValidMAC(mac) {
                fail(at + "/mac", "must be a unicast MAC like 52:54:00:12:34:56, got \(interface.mac ?? mac)")
            } else if let other = seenMACs[mac] {
                fail(at + "/mac", "\(mac) is already the MAC of \(pointer)/interfaces/\(other)")
            } else {
                seenMACs[mac] = index
            }
            let type = interface.type ?? "network"
            if ["bridge", "direct", "vhostuser"].contains(type), interface.source == nil {
                fail(at + "/source", "is required for a \(type) interface")
            }
            if let source = interface.source {
                switch type {
                case "vhostuser" where !LibvirtFormats.isAbsoluteFilePath(source):
                    fail(at + "/source", "must be the absolute path of the vhost-user socket")
                case "direct" where !LibvirtFormats.isNetworkDeviceName(source):
                    fail(at + "/source", "must be a host network device name (at most 15 of letters, digits, '_', '.', '-', ':', '/' and '\\'), got \(source)")
                case "bridge" where !LibvirtFormats.isBridgeName(source):
                    fail(at + "/source", "must be a bridge name (at most 15 of letters, digits, ' ', '_', '.', '-', ':', '/' and '\\'), got \(source)")
                case "network" where source.isEmpty:
                    fail(at + "/source", "must not be empty")
                default: break
                }
            }
            if type == "user" {
                // User-mode networking has no host device: nothing to name, filter or tune.
                for (field, given) in [("source", interface.source != nil), ("target", interface.target != nil),
                                       ("filter", interface.filter != nil), ("queues", interface.queues != nil)] where given {
                    fail(at + "/" + field, "is not used with a user interface: it has no host device")
                }
                if interface.firewall?.enabled == true {
                    fail(at + "/firewall", "is not used with a user interface: it has no host device")
                }
            }
            if let target = interface.target, !LibvirtFormats.isNetworkDeviceName(target) {
                fail(at + "/target", "must be a network device name (at most 15 of letters, digits, '_', '.', '-', ':', '/' and '\\'), got \(target)")
            }
            if let mtu = interface.mtu, !InterfaceSpec.mtuRange.contains(mtu) { fail(at + "/mtu", "must be 68 to 65535, got \(mtu)") }
            if let filter = interface.filter {
                if filter.name.isEmpty {
                    fail(at + "/filter/name", "must not be empty")
                } else if !LibvirtFormats.isFilterName(filter.name) {
                    fail(at + "/filter/name", "must be a filter name: a letter or '_', then letters, digits, '_', '.' and '-', got \(filter.name)")
                }
                for name in filter.parameters.keys.sorted() {
                    let parameterAt = at + "/filter/parameters/" + ObjectReader.escape(name)
                    if !LibvirtFormats.isFilterParameterName(name) {
                        fail(parameterAt, "is a parameter name that must be letters, digits and '_'")
                    }
                    if let value = filter.parameters[name], !LibvirtFormats.isFilterParameterValue(value) {
                        fail(parameterAt, "must be letters, digits, '_', '.' and ':', got \(value)")
                    }
                }
            }
            if let mode = interface.mode {
                let allowed = type == "direct" ? InterfaceSpec.directModes : type == "vhostuser" ? InterfaceSpec.vhostUserModes : []
                if allowed.isEmpty {
                    fail(at + "/mode", "is only used with direct and vhostuser interfaces")
                } else if !allowed.contains(mode) {
                    fail(at + "/mode", "must be one of \(allowed.joined(separator: ", ")) for a \(type) interface")
                }
            }
            if let queues = interface.queues {
                if !(1...256).contains(queues) { fail(at + "/queues", "must be 1 to 256, got \(queues)") }
                if type != "vhostuser", (interface.model ?? "virtio") != "virtio" {
                    fail(at + "/queues", "needs the virtio model")
                }
            }
            if let firewall = interface.firewall, firewall.enabled {
                if interface.filter != nil { fail(at + "/firewall", "cannot be combined with filter: the firewall sets the filter") }
                if type == "vhostuser" { fail(at + "/firewall", "libvirt's filters do not apply to vhostuser interfaces") }
                var seenIPs: Set<String> = []
                for (ipIndex, ip) in firewall.allowedIPs.enumerated() {
                    if !Self.isValidIPv4(ip) {
                        fail(at + "/firewall/allowed_ips/\(ipIndex)", "must be an IPv4 address like 10.0.0.5, got \(ip)")
                    } else if !seenIPs.insert(ip).inserted {
                        fail(at + "/firewall/allowed_ips/\(ipIndex)", "\(ip) is listed twice")
                    }
                }
            }
        }

        // PCI devices.
        var addresses: Set<String> = []
        for (index, device) in spec.pciDevices.enumerated() {
            if device.parts == nil {
                fail("/pci_devices/\(index)/address", "must be a PCI address like 0000:81:00.1, got \(device.address)")
            } else if !addresses.insert(device.address.lowercased()).inserted {
                fail("/pci_devices/\(index)/address", "\(device.address) is passed through twice")
            }
        }

        if spec.memballoon.statsPeriodSeconds < 0 { fail("/memballoon/stats_period_s", "must not be negative") }
        if spec.memballoon.statsPeriodSeconds > MemballoonSpec.statsPeriodRange.upperBound {
            fail("/memballoon/stats_period_s", "must be at most \(MemballoonSpec.statsPeriodRange.upperBound), got \(spec.memballoon.statsPeriodSeconds)")
        }
        if spec.graphics.listen.isEmpty {
            fail("/graphics/listen", "must not be empty")
        } else if !LibvirtFormats.isAddressOrHostName(spec.graphics.listen) {
            fail("/graphics/listen", "must be an IP address or a host name of letters, digits, '.' and '-', got \(spec.graphics.listen)")
        }
        if let logFile = spec.serial.logFile, !LibvirtFormats.isAbsoluteFilePath(logFile) {
            fail("/serial/log_file", "must be an absolute file path, got \(logFile)")
        }

        guard errors.isEmpty else { throw GuestSpecError(errors) }
    }

    // MARK: Formats

    /// Without a policy a path is still held to libvirt's `absFilePath`.
    static func absolutePathRefusal(_ path: String) -> String? {
        LibvirtFormats.isAbsoluteFilePath(path) ? nil : "must be an absolute path"
    }

    // The checks below read ASCII text byte by byte; text with anything else in it takes the
    // general path, which gives the same answer (Character-wise, as before) more slowly.

    static func isValidName(_ name: String) -> Bool {
        // Letters and digits of ASCII are exactly what CharacterSet.alphanumerics holds there.
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): true
            default: false
            }
        }
    }

    static func isValidUUID(_ text: String) -> Bool {
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            guard text.utf8.count == 36 else { return false }
            for (offset, byte) in text.utf8.enumerated() {
                switch offset {
                case 8, 13, 18, 23:
                    guard byte == UInt8(ascii: "-") else { return false }
                default:
                    guard isASCIIHexDigit(byte) else { return false }
                }
            }
            return true
        }
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    static func isValidMAC(_ mac: String) -> Bool {
        if mac.utf8.allSatisfy({ $0 < 0x80 }) {
            guard mac.utf8.count == 17 else { return false }
            var first: UInt8 = 0
            for (offset, byte) in mac.utf8.enumerated() {
                if offset % 3 == 2 {
                    guard byte == UInt8(ascii: ":") else { return false }
                } else if !isASCIIHexDigit(byte) {
                    return false
                } else if offset == 1 {
                    first = byte
                }
            }
            return hexValue(first) & 1 == 0  // unicast
        }
        let octets = mac.split(separator: ":", omittingEmptySubsequences: false)
        guard octets.count == 6, octets.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }),
              let first = UInt8(octets[0], radix: 16) else { return false }
        return first & 1 == 0  // unicast
    }

    static func isASCIIHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
             UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }

    static func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: byte - UInt8(ascii: "A") + 10
        }
    }

    /// QEMU's i440FX machines: `pc` and `pc-i440fx-*` (whose IDE controller is built in).
    static func isI440FX(_ machine: String?) -> Bool {
        guard let machine else { return false }
        return machine == "pc" || machine.hasPrefix("pc-i440fx") || machine.hasPrefix("pc-0.") || machine.hasPrefix("pc-1.")
    }

    static func isValidIPv4(_ text: String) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { octet in
            (1...3).contains(octet.count) && octet.allSatisfy(\.isASCII) && octet.allSatisfy(\.isNumber)
                && Int(octet).map { $0 <= 255 } == true && (octet.count == 1 || octet.first != "0")
        }
    }

    /// In bytes: a `Character` comparison lets `b` plus a combining mark pass as a letter.
    static func isValidTarget(_ target: String) -> Bool {
        let bytes = Array(target.utf8)
        guard ["vd", "sd", "hd"].contains(where: { bytes.starts(with: $0.utf8) }) else { return false }
        let letters = bytes.dropFirst(2)
        return (1...3).contains(letters.count) && letters.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
    }

    /// A MAC in QEMU's `52:54:00` range, derived from the guest UUID and the interface's index
    /// (FNV-1a), so rendering the same spec twice gives the same address.
    static func derivedMAC(uuid: String, index: Int) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(uuid)#\(index)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let bytes = [UInt8(0x52), 0x54, 0x00, UInt8(truncatingIfNeeded: hash >> 16),
                     UInt8(truncatingIfNeeded: hash >> 8), UInt8(truncatingIfNeeded: hash)]
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for (index, byte) in bytes.enumerated() {
            if index > 0 { text.append(UInt8(ascii: ":")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
