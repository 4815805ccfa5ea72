import FoundationEssentials

/// libvirt's domain capabilities (`virConnectGetDomainCapabilities`) for one emulator,
/// architecture, machine and virt type, parsed.
public struct DomainCapabilities: Sendable, Hashable, Encodable {
    public struct CPUMode: Sendable, Hashable, Encodable {
        public var name: String
        public var supported: Bool
        /// For `host-model`: the model libvirt would use, its vendor and feature policies.
        public var model: String?
        public var vendor: String?
        public var features: [Feature]
        /// For `custom`: the named models and whether each is usable on this host.
        public var models: [Model]
    }

    public struct Feature: Sendable, Hashable, Encodable {
        public var name: String
        public var policy: String?
    }

    public struct Model: Sendable, Hashable, Encodable {
        public var name: String
        public var usable: Bool?
        public var vendor: String?
    }

    /// A device class (`disk`, `video`...) or the OS loader: whether it is supported and its
    /// enumerations (e.g. `bus: [virtio, scsi, sata]`).
    public struct Capability: Sendable, Hashable, Encodable {
        public var supported: Bool
        public var enums: [String: [String]]
    }

    public var path: String?
    public var virtType: String?
    public var machine: String?
    public var arch: String?
    public var maxVCPUs: Int?
    public var cpuModes: [CPUMode]
    /// `firmware` values and `loader` enums of `<os>`.
    public var os: Capability?
    public var loader: Capability?
    public var devices: [String: Capability]
    /// Named features (`sev`, `vmcoreinfo`...) and whether each is supported.
    public var features: [String: Bool]

    enum CodingKeys: String, CodingKey {
        case path, machine, arch, os, loader, devices, features
        case virtType = "virt_type"
        case maxVCPUs = "max_vcpus"
        case cpuModes = "cpu_modes"
    }

    public init(xml: String) throws {
        let root = try XMLTree(xml, root: "domainCapabilities").root
        path = root.childText("path")
        virtType = root.childText("domain")
        machine = root.childText("machine")
        arch = root.childText("arch")
        maxVCPUs = root.child("vcpu")?.attribute("max").flatMap(Int.init)
        cpuModes = root.child("cpu")?.children("mode").map { mode in
            let model = mode.child("model")
            return CPUMode(
                name: mode.attribute("name") ?? "",
                supported: mode.attribute("supported") == "yes",
                model: mode.attribute("name") == "custom" ? nil : model?.text,
                vendor: mode.childText("vendor"),
                features: mode.children("feature").compactMap { feature in
                    feature.attribute("name").map { Feature(name: $0, policy: feature.attribute("policy")) }
                },
                models: mode.attribute("name") == "custom" ? mode.children("model").compactMap { model in
                    model.text.map { Model(name: $0, usable: model.attribute("usable").map { $0 == "yes" },
                                           vendor: model.attribute("vendor")) }
                } : [])
        } ?? []
        os = root.child("os").map(Self.capability)
        loader = root.at("os", "loader").map(Self.capability)
        var devices: [String: Capability] = [:]
        for device in root.child("devices")?.childElements ?? [] {
            devices[device.name] = Self.capability(device)
        }
        self.devices = devices
        var features: [String: Bool] = [:]
        for feature in root.child("features")?.childElements ?? [] {
            features[feature.name] = feature.attribute("supported") == "yes"
        }
        self.features = features
    }

    private static func capability(_ element: XMLTree.Element) -> Capability {
        var enums: [String: [String]] = [:]
        for item in element.children("enum") {
            guard let name = item.attribute("name") else { continue }
            enums[name] = item.children("value").compactMap(\.text)
        }
        return Capability(supported: element.attribute("supported") == "yes", enums: enums)
    }
}
