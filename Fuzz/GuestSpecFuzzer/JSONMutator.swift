import Foundation

/// Mutates a JSON document as JSON: numbers to boundaries and neighbours, strings to hostile
/// or valid ones, fields added, dropped and retyped, array items duplicated and dropped.
/// libFuzzer's byte mutations rarely turn `6789` into `16789` or `virtio` into `e1000` while
/// keeping the document JSON; these do it in one step, so the fuzzer reaches the builders'
/// corners instead of the JSON reader's error paths. Seeded by libFuzzer, so runs replay.
struct JSONMutator {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// The document mutated one to three times; nil when `bytes` is not a JSON document.
    mutating func mutate(_ bytes: [UInt8]) -> [UInt8]? {
        guard var document = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
            return nil
        }
        for _ in 0...random.below(3) { document = mutate(document, depth: 0) }
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.fragmentsAllowed, .withoutEscapingSlashes])
        else { return nil }
        return Array(data)
    }

    /// One step of a path into a document.
    enum Step { case key(String), index(Int) }

    /// Changes one node, chosen uniformly among all of them, so a port deep in a disk is as
    /// likely a target as the top-level name.
    mutating func mutate(_ document: Any, depth: Int) -> Any {
        var paths: [[Step]] = []
        Self.collect(document, [], into: &paths)
        let path = paths[random.below(paths.count)]
        return Self.replacing(in: document, at: path[...]) { value in
            switch value {
            case let object as [String: Any]: mutateObject(object)
            case let array as [Any]: mutateArray(array)
            default: mutateScalar(value)
            }
        }
    }

    static func collect(_ value: Any, _ path: [Step], into paths: inout [[Step]]) {
        paths.append(path)
        if let object = value as? [String: Any] {
            for key in object.keys.sorted() { collect(object[key]!, path + [.key(key)], into: &paths) }
        } else if let array = value as? [Any] {
            for (index, item) in array.enumerated() { collect(item, path + [.index(index)], into: &paths) }
        }
    }

    static func replacing(in value: Any, at path: ArraySlice<Step>, _ change: (Any) -> Any) -> Any {
        guard let step = path.first else { return change(value) }
        switch step {
        case .key(let key):
            guard var object = value as? [String: Any], let child = object[key] else { return value }
            object[key] = replacing(in: child, at: path.dropFirst(), change)
            return object
        case .index(let index):
            guard var array = value as? [Any], array.indices.contains(index) else { return value }
            array[index] = replacing(in: array[index], at: path.dropFirst(), change)
            return array
        }
    }

    mutating func mutateObject(_ object: [String: Any]) -> Any {
        var object = object
        let keys = object.keys.sorted()
        switch random.below(5) {
        case 0 where !keys.isEmpty:
            object[keys.randomElement(using: &random)!] = nil
        case 1 where !keys.isEmpty:
            // The same value under another known field.
            object[Self.keys.randomElement(using: &random)!] = object[keys.randomElement(using: &random)!]
        case 2:
            return anyValue(depth: 0)
        default:
            object[Self.keys.randomElement(using: &random)!] = anyValue(depth: 0)
        }
        return object
    }

    mutating func mutateArray(_ array: [Any]) -> Any {
        var array = array
        switch random.below(4) {
        case 0 where !array.isEmpty: array.remove(at: random.below(array.count))
        case 1 where !array.isEmpty: array.append(array[random.below(array.count)])
        case 2: array.append(anyValue(depth: 0))
        default: array.shuffle(using: &random)
        }
        return array
    }

    mutating func mutateScalar(_ value: Any) -> Any {
        if random.below(8) == 0 { return anyValue(depth: 0) }
        if let string = value as? String { return mutateString(string) }
        if let number = value as? NSNumber {
            // Foundation reads true and false as NSNumbers of type "c".
            if String(cString: number.objCType) == "c" { return !number.boolValue }
            return mutateNumber(number.int64Value)
        }
        return anyValue(depth: 0)
    }

    mutating func mutateNumber(_ number: Int64) -> Any {
        switch random.below(6) {
        case 0: return Self.boundaries.randomElement(using: &random)!
        case 1: return number &+ Int64(random.below(5)) &- 2
        case 2: return number.multipliedReportingOverflow(by: 10).partialValue &+ Int64(random.below(10))
        case 3: return number / 10
        case 4: return Double(number) + 0.5
        default: return number &* 2
        }
    }

    mutating func mutateString(_ string: String) -> String {
        switch random.below(7) {
        case 0: return Self.values.randomElement(using: &random)!
        case 1: return Self.hostile.randomElement(using: &random)!
        case 2: return string + Self.hostile.randomElement(using: &random)!
        case 3:
            var scalars = Array(string.unicodeScalars)
            scalars.insert(Self.hostile.randomElement(using: &random)!.unicodeScalars.first ?? "x",
                           at: random.below(scalars.count + 1))
            return String(String.UnicodeScalarView(scalars))
        case 4:
            var scalars = Array(string.unicodeScalars)
            if !scalars.isEmpty { scalars.remove(at: random.below(scalars.count)) }
            return String(String.UnicodeScalarView(scalars))
        case 5: return string + string
        default: return Self.paths.randomElement(using: &random)!
        }
    }

    mutating func anyValue(depth: Int) -> Any {
        switch random.below(depth > 2 ? 5 : 7) {
        case 0: return Self.values.randomElement(using: &random)!
        case 1: return Self.hostile.randomElement(using: &random)!
        case 2: return Self.boundaries.randomElement(using: &random)!
        case 3: return random.below(2) == 0
        case 4: return NSNull()
        case 5:
            var object: [String: Any] = [:]
            for _ in 0..<random.below(4) { object[Self.keys.randomElement(using: &random)!] = anyValue(depth: depth + 1) }
            return object
        default:
            return (0..<random.below(3)).map { _ in anyValue(depth: depth + 1) }
        }
    }

    // MARK: Vocabulary

    /// The spec's field names.
    static let keys = [
        "acpi", "address", "allow_dhcp", "allowed_ips", "apic", "arch", "boot", "boot_order", "bus", "cache", "clock",
        "cmdline", "config_drive", "cores", "cpu", "device", "discard", "disk", "disks", "enabled", "ephemeral",
        "family", "features", "filter", "firewall", "firmware", "format", "graphics", "hosts", "initrd", "input",
        "interface", "interfaces", "io", "iotune", "kernel", "listen", "log_file", "mac", "machine", "managed",
        "manufacturer", "memballoon", "memory_mb", "metadata", "mode", "model", "mtu", "name", "offset", "os",
        "parameters", "paused", "pci_device", "pci_devices", "policy", "port", "product", "protocol", "queues",
        "read_bytes_sec", "read_iops_sec", "readonly", "rng", "root", "serial", "sockets", "source", "spec", "start",
        "stats_period_s", "storage", "swap", "sysinfo", "tablet", "target", "threads", "topology", "total_bytes_sec",
        "total_iops_sec", "type", "uuid", "vcpus", "vendor", "version", "video", "virt_type", "vmcoreinfo", "volumes",
        "write_bytes_sec", "write_iops_sec",
    ]

    /// Values the spec accepts somewhere, so mutations stay valid often enough to render.
    static let values = [
        "host-model", "host-passthrough", "custom", "force", "require", "optional", "disable", "forbid", "vnc", "spice",
        "none", "virtio", "vga", "qxl", "bochs", "cirrus", "utc", "localtime", "file", "block", "network", "qcow2", "raw",
        "disk", "cdrom", "scsi", "sata", "ide", "writethrough", "writeback", "directsync", "unsafe", "default",
        "native", "threads", "io_uring", "unmap", "ignore", "rbd", "iscsi", "nbd", "bridge", "ethernet", "direct",
        "vhostuser", "e1000", "e1000e", "rtl8139", "vepa", "private", "passthrough", "client", "server", "bios",
        "efi", "hd", "fd", "kvm", "qemu", "x86_64", "i686", "aarch64", "q35", "pc", "virt", "Haswell", "br0",
        "vda", "vdb", "sda", "sdz", "hda", "vdaa", "52:54:00:00:00:01", "52:54:00:12:34:56", "0000:81:00.1",
        "0000:00:1f.7", "10.0.0.5", "192.0.2.1", "6695eb01-f6a4-8304-79aa-97f2502e193f", "clean-traffic", "web-1",
    ]

    static let paths = [
        "/var/lib/libvirt/images/x.qcow2", "/var/lib/libvirt/images/a/b/c.raw", "/dev/disk/by-id/wwn-0x5000",
        "/var/lib/libvirt/images/../../etc/shadow", "/var/lib/libvirt/images//x", "/var/lib/libvirt/images/x/.",
        "/var/lib/libvirt/images/", "/var/lib/libvirt/images", "/var/lib/libvirt/images-evil/x",
        "/var/lib/libvirt/images/%2e%2e/x", "var/lib/libvirt/images/x", "/etc/passwd",
        "/var/lib/libvirt/images/" + String(repeating: "a", count: 256), "/run/vhu0",
    ]

    static let hostile = [
        "<", ">", "&", "'", "\"", "</name><name>x", "']]><!--", "<![CDATA[x]]>", "&amp;", "&#60;", "&e;", "<?xml?>",
        "\u{0}", "\u{1}", "\t", "\n", "\r", "\u{7F}", "\u{85}", "\u{FFFD}", "\u{FFFE}", "\u{FFFF}", "\u{FEFF}",
        "\u{202E}", "\u{2028}", "\u{301}", "e\u{301}", "\u{E9}", "\u{1F600}", "\u{10FFFF}", " ", "", "/", "..", ".",
        "%2e%2e", "\\", "$(id)", String(repeating: "x", count: 300),
        // libvirt's formats: DNS names, IPv6, device names.
        "_", "a b", ":", "::1", "fe80::1", "1:2:3", "a.b-c", String(repeating: "t", count: 16),
    ]

    static let boundaries: [any Sendable] = [
        0, 1, -1, 2, 3, 7, 8, 64, 68, 255, 256, 4095, 4096, 9000, 65535, 65536, 16_777_216, 16_777_217,
        2_147_483_647, 2_147_483_648, 4_294_967_295, 4_294_967_296, 1_000_000_000_000_000, 1_000_000_000_000_001,
        9_007_199_254_740_993, Int64.max, Int64.min, UInt64.max, 0.5, -0.0, 1e300,
    ]
}

/// A small seeded generator (SplitMix64), so a libFuzzer seed replays the same mutations.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<bound.
    mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }
}
