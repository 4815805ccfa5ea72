import FoundationEssentials

/// libvirt's capabilities document (`virConnectGetCapabilities`), parsed: the host CPU, its
/// NUMA cells, and the guest architectures the hypervisor can run.
public struct HostCapabilities: Sendable, Hashable, Encodable {
    public struct CPU: Sendable, Hashable, Encodable {
        public var arch: String
        /// The host CPU model; nil where the driver names none (the test driver).
        @NullWhenAbsent public var model: String?
        @NullWhenAbsent public var vendor: String?
        /// From `<topology>`; nil where the driver gives none.
        @NullWhenAbsent public var topology: Topology?
        /// Feature names, sorted.
        public var features: [String]
    }

    public struct Topology: Sendable, Hashable, Encodable {
        public var sockets: Int
        public var cores: Int
        public var threads: Int
    }

    public struct Cell: Sendable, Hashable, Encodable {
        public var id: Int
        public var memoryKiB: UInt64
        public var cpus: [Int]

        enum CodingKeys: String, CodingKey {
            case id, cpus
            case memoryKiB = "memory_kib"
        }
    }

    public struct Guest: Sendable, Hashable, Encodable {
        public var osType: String
        public var arch: String
        public var wordsize: Int?
        public var emulator: String?
        public var machines: [Machine]
        /// Domain types this architecture runs under (`qemu`, `kvm`, `test`...).
        public var domainTypes: [String]

        enum CodingKeys: String, CodingKey {
            case arch, wordsize, emulator, machines
            case osType = "os_type"
            case domainTypes = "domain_types"
        }
    }

    public struct Machine: Sendable, Hashable, Encodable {
        public var name: String
        /// The versioned machine an alias stands for (`q35` → `pc-q35-7.2`).
        public var canonical: String?
        public var maxCPUs: Int?

        enum CodingKeys: String, CodingKey {
            case name, canonical
            case maxCPUs = "max_cpus"
        }
    }

    public var cpu: CPU
    public var cells: [Cell]
    public var guests: [Guest]

    public init(xml: String) throws {
        let root = try XMLTree(xml, root: "capabilities").root
        guard let cpu = root.at("host", "cpu"), let arch = cpu.childText("arch") else {
            throw XMLTree.ParseError(description: "capabilities XML has no <host><cpu><arch>")
        }
        // Features come as <feature name='x'/> (real drivers) or as <features><x/></features>.
        let named = cpu.children("feature").compactMap { $0.attribute("name") }
        let listed = cpu.child("features")?.childElements.map(\.name) ?? []
        let topology = cpu.child("topology").flatMap { element -> Topology? in
            guard let sockets = element.attribute("sockets").flatMap(Int.init),
                  let cores = element.attribute("cores").flatMap(Int.init),
                  let threads = element.attribute("threads").flatMap(Int.init) else { return nil }
            return Topology(sockets: sockets, cores: cores, threads: threads)
        }
        self.cpu = CPU(arch: arch, model: cpu.childText("model"), vendor: cpu.childText("vendor"),
                       topology: topology, features: Array(Set(named + listed)).sorted())

        cells = root.at("host", "topology", "cells")?.children("cell").map { cell in
            Cell(id: cell.attribute("id").flatMap(Int.init) ?? 0,
                 memoryKiB: cell.child("memory").flatMap { Self.kibibytes($0) } ?? 0,
                 cpus: cell.at("cpus")?.children("cpu").compactMap { $0.attribute("id").flatMap(Int.init) } ?? [])
        } ?? []

        guests = root.children("guest").compactMap { guest in
            guard let arch = guest.child("arch"), let name = arch.attribute("name") else { return nil }
            let machines = arch.children("machine").compactMap { machine -> Machine? in
                guard let name = machine.text else { return nil }
                return Machine(name: name, canonical: machine.attribute("canonical"),
                               maxCPUs: machine.attribute("maxCpus").flatMap(Int.init))
            }
            return Guest(osType: guest.childText("os_type") ?? "hvm", arch: name,
                         wordsize: arch.childText("wordsize").flatMap(Int.init), emulator: arch.childText("emulator"),
                         machines: machines, domainTypes: arch.children("domain").compactMap { $0.attribute("type") })
        }
    }

    /// A `<memory unit='KiB'>` value in KiB.
    static func kibibytes(_ element: XMLTree.Element) -> UInt64? {
        guard let value = element.text.flatMap(UInt64.init) else { return nil }
        switch element.attribute("unit")?.lowercased() ?? "kib" {
        case "b", "bytes": return value / 1024
        case "mib", "m": return value * 1024
        case "gib", "g": return value * 1024 * 1024
        default: return value
        }
    }

    /// The domain types (`kvm`, `qemu`) the host can run for `arch`.
    public func domainTypes(arch: String) -> [String] {
        var seen: [String] = []
        for guest in guests where guest.arch == arch {
            for type in guest.domainTypes where !seen.contains(type) { seen.append(type) }
        }
        return seen
    }
}
