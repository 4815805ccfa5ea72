import FoundationEssentials
import Libvirt

/// One domain as `GET /v1/domains/{ref}` shows it: the summary plus what its XML says.
public struct DomainDetails: Sendable, Hashable, Encodable {
    public struct OS: Sendable, Hashable, Encodable {
        public var type: String?
        public var arch: String?
        public var machine: String?
    }

    public struct Disk: Sendable, Hashable, Encodable {
        /// `file`, `block`, `network` or `volume`.
        public var type: String?
        public var device: String?
        public var target: String?
        public var bus: String?
        /// The file or device path, the network image name, or `pool/volume`.
        public var source: String?
        public var format: String?
    }

    public struct Interface: Sendable, Hashable, Encodable {
        public var mac: String?
        public var type: String?
        /// The network, bridge or device the interface attaches to.
        public var source: String?
        public var model: String?
    }

    public var summary: DomainSummary
    public var cpuTimeNanoseconds: UInt64
    public var os: OS
    public var disks: [Disk]
    public var interfaces: [Interface]
    public var title: String?
    public var description: String?
    /// The service's labels (``DomainLabels``), kept in the summary, which encodes them.
    public var labels: [String: String] { summary.labels }

    enum CodingKeys: String, CodingKey {
        case os, disks, interfaces, title, description
        case cpuTimeNanoseconds = "cpu_time_ns"
    }

    public func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cpuTimeNanoseconds, forKey: .cpuTimeNanoseconds)
        try container.encode(os, forKey: .os)
        try container.encode(disks, forKey: .disks)
        try container.encode(interfaces, forKey: .interfaces)
        try container.encode(NullWhenAbsent(wrappedValue: title), forKey: .title)
        try container.encode(NullWhenAbsent(wrappedValue: description), forKey: .description)
    }

    public init(summary: DomainSummary, cpuTimeNanoseconds: UInt64, xml: String) throws {
        self.summary = summary
        self.cpuTimeNanoseconds = cpuTimeNanoseconds
        let description = try DomainDescription(xml: xml)
        os = description.os
        disks = description.disks
        interfaces = description.interfaces
        title = description.title
        self.description = description.description
        self.summary.labels = description.labels
    }
}

/// The parts of a domain XML document the service reads.
struct DomainDescription {
    var os: DomainDetails.OS
    var disks: [DomainDetails.Disk]
    var interfaces: [DomainDetails.Interface]
    var title: String?
    var description: String?
    var labels: [String: String]

    init(xml: String) throws {
        let root = try XMLTree(xml, root: "domain").root
        title = root.childText("title")
        description = root.childText("description")
        labels = DomainLabels.labels(inMetadata: root.child("metadata"))
        let type = root.at("os", "type")
        os = DomainDetails.OS(type: type?.text, arch: type?.attribute("arch"), machine: type?.attribute("machine"))
        let devices = root.child("devices")
        disks = devices?.children("disk").map { disk in
            let source = disk.child("source")
            let path = source?.attribute("file") ?? source?.attribute("dev") ?? source?.attribute("name")
                ?? source.flatMap { source in
                    source.attribute("pool").map { pool in "\(pool)/\(source.attribute("volume") ?? "")" }
                }
            return DomainDetails.Disk(type: disk.attribute("type"), device: disk.attribute("device"),
                                      target: disk.child("target")?.attribute("dev"),
                                      bus: disk.child("target")?.attribute("bus"), source: path,
                                      format: disk.child("driver")?.attribute("type"))
        } ?? []
        interfaces = devices?.children("interface").map { interface in
            let source = interface.child("source")
            return DomainDetails.Interface(
                mac: interface.child("mac")?.attribute("address"), type: interface.attribute("type"),
                source: source?.attribute("network") ?? source?.attribute("bridge") ?? source?.attribute("dev"),
                model: interface.child("model")?.attribute("type"))
        } ?? []
    }
}

extension DomainDescription {
    /// The XML of the device `identifier` names in a domain document: a disk by target, an
    /// interface by MAC, a PCI host device by address (`0000:81:00.1`). Nil when none matches.
    static func deviceXML(in xml: String, identifier: String) throws -> String? {
        let devices = try XMLTree(xml, root: "domain").root.child("devices")
        let wanted = identifier.lowercased()
        for disk in devices?.children("disk") ?? [] where disk.child("target")?.attribute("dev") == identifier {
            return disk.xmlString
        }
        for interface in devices?.children("interface") ?? []
        where interface.child("mac")?.attribute("address")?.lowercased() == wanted {
            return interface.xmlString
        }
        for hostdev in devices?.children("hostdev") ?? [] {
            guard let address = hostdev.at("source", "address") else { continue }
            let parts = ["domain", "bus", "slot", "function"].map { name -> Int? in
                address.attribute(name).flatMap { Int($0.replacing("0x", with: ""), radix: 16) }
            }
            guard let domain = parts[0], let bus = parts[1], let slot = parts[2], let function = parts[3] else { continue }
            func hex(_ value: Int, _ width: Int) -> String {
                let digits = String(value, radix: 16)
                return String(repeating: "0", count: max(0, width - digits.count)) + digits
            }
            let text = "\(hex(domain, 4)):\(hex(bus, 2)):\(hex(slot, 2)).\(hex(function, 1))"
            if text == wanted { return hostdev.xmlString }
        }
        return nil
    }
}
