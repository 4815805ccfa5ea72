import Foundation
import GuestConfig

/// What must hold for any request body, whatever its bytes: reading it, validating it and
/// rendering it never crashes, and every document rendered is well-formed XML whose elements
/// are exactly those the spec asked for, with every string of the spec only as text or an
/// attribute value where it belongs. The fuzzer (`GuestSpecFuzzer`) traps on a ``Violation``;
/// the test suite runs the same checks over the seed corpus.
public enum GuestSpecOracle {
    public struct Violation: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// What one input came to.
    public struct Outcome: Sendable {
        /// Field errors of the guest spec when it was refused without a host profile.
        public var fieldErrors: [FieldError] = []
        /// Documents rendered and verified (domain XML per host profile, firewall filters,
        /// hot-plug devices, the escaping probe).
        public var documentsChecked = 0
        /// The body was a guest spec that validated (without a host profile) and rendered.
        public var rendered = false
    }

    /// The UUID given to specs without one, so that the same input always renders the same.
    public static let uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f"
    /// The golden specs' disk roots. Paths are checked lexically here (no file system), so
    /// that a run does not depend on the machine; the resolution of symbolic links has tests
    /// of its own.
    public static let allowedDiskRoots = ["/var/lib/libvirt/images", "/dev/disk"]
    public static let policy = ValidationPolicy(allowedDiskRoots: allowedDiskRoots, resolve: { $0 })
    /// An x86_64 KVM host, so validation against a host's offer runs too.
    public static let host = HostProfile(
        arch: "x86_64",
        architectures: [
            "x86_64": .init(machines: ["q35", "pc", "pc-q35-7.2", "pc-i440fx-7.2"], domainTypes: ["kvm", "qemu"], maxCPUs: 288),
            "i686": .init(machines: ["pc", "q35"], domainTypes: ["qemu"], maxCPUs: 255),
            "aarch64": .init(machines: ["virt"], domainTypes: ["qemu"], maxCPUs: 512),
        ],
        offer: .init(maxVCPUs: 288, cpuModes: ["host-passthrough", "host-model", "custom"],
                     cpuModels: ["Haswell", "Skylake-Server", "qemu64"], diskBuses: ["virtio", "scsi", "sata", "ide"]))

    /// Runs `bytes` through every reader: as a guest spec, as a create request (`{"spec":…}`)
    /// and as a hot-plug device; and the bytes as one string through the serialiser.
    public static func check(_ bytes: [UInt8]) throws(Violation) -> Outcome {
        var outcome = Outcome()
        try checkEscaping(String(decoding: bytes, as: UTF8.self))
        outcome.documentsChecked += 1

        let (spec, readErrors) = GuestSpec.read(json: bytes)
        if let spec {
            for host in [nil, host] {
                switch try checkSpec(spec, host: host, readErrors: readErrors, pointer: "") {
                case .rendered(let documents):
                    outcome.documentsChecked += documents
                    if host == nil { outcome.rendered = true }
                case .refused(let errors):
                    if host == nil { outcome.fieldErrors = errors }
                }
            }
        } else {
            try checkRefusal(readErrors)
            outcome.fieldErrors = readErrors
        }

        let (creation, creationErrors) = GuestCreation.read(json: bytes)
        if let creation {
            if case .rendered(let documents) = try checkSpec(creation.spec, host: nil, readErrors: creationErrors, pointer: "/spec") {
                outcome.documentsChecked += documents
            }
        } else {
            try checkRefusal(creationErrors)
        }

        do {
            let device = try DeviceDefinition(json: bytes, existingTargets: ["vda", "sda"],
                                              existingMACs: ["52:54:00:00:00:01"], uuid: uuid, policy: policy)
            try matches(try parse(device.xml), device.element, at: device.element.name)
            try conformsAsDevice(device.element)
            outcome.documentsChecked += 1
        } catch let error as GuestSpecError {
            try checkRefusal(error.errors)
        } catch let violation as Violation {
            throw violation
        } catch {
            throw Violation("unexpected error \(error)")
        }
        return outcome
    }

    enum SpecOutcome { case rendered(Int), refused([FieldError]) }

    static func checkSpec(_ spec: GuestSpec, host: HostProfile?, readErrors: [FieldError],
                          pointer: String) throws(Violation) -> SpecOutcome {
        var spec = spec
        if spec.uuid == nil { spec.uuid = uuid }
        // A first-boot disk is resolved onto its volume as the API does, so its rules run.
        if spec.firstBoot != nil { spec = ManagedVolumes.resolve(spec, pool: "instances") }
        let definition: GuestDefinition
        do {
            definition = try GuestDefinition(spec, host: host, policy: policy, pointer: pointer, readErrors: readErrors)
        } catch {
            try checkRefusal(error.errors)
            return .refused(error.errors)
        }
        guard readErrors.isEmpty else { throw Violation("a spec with read errors was accepted: \(readErrors)") }
        return .rendered(try verify(definition))
    }

    /// A refusal names at least one field, each by a JSON pointer.
    static func checkRefusal(_ errors: [FieldError]) throws(Violation) {
        guard !errors.isEmpty else { throw Violation("refused without a field error") }
        for error in errors where !(error.pointer.isEmpty || error.pointer.utf8.first == UInt8(ascii: "/")) {
            throw Violation("\(error.pointer.debugDescription) is not a JSON pointer")
        }
    }

    // MARK: The serialiser

    /// A string XML 1.0 cannot carry (C0 controls but tab, newline and return; U+FFFE,
    /// U+FFFF) comes out as U+FFFD; everything else must come back exactly.
    public static func xmlSafe(_ string: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            let carried = scalar.value >= 0x20 ? scalar.value != 0xFFFE && scalar.value != 0xFFFF : [0x09, 0x0A, 0x0D].contains(scalar.value)
            scalars.append(carried ? scalar : "\u{FFFD}")
        }
        return String(scalars)
    }

    /// Any string as an attribute value and as text comes back as data, with the structure
    /// unchanged.
    static func checkEscaping(_ string: String) throws(Violation) {
        let probe = Element("probe", [("value", string), ("other", "x")], children: [
            Element("text", text: string), Element("empty"),
        ])
        try matches(try parse(probe.serialized()), probe, at: "probe")
    }

    static func parse(_ xml: String) throws(Violation) -> ParsedElement {
        do {
            return try StrictXML.parse(xml)
        } catch {
            throw Violation("\(error.description)\n\(xml)")
        }
    }

    /// The parsed document is the tree that was serialised: the same elements, attributes
    /// and text (as ``xmlSafe(_:)`` maps it), and nothing else.
    public static func matches(_ parsed: ParsedElement, _ expected: Element, at path: String) throws(Violation) {
        guard parsed.name.utf8.elementsEqual(expected.name.utf8) else {
            throw Violation("\(path): element \(parsed.name.debugDescription), expected \(expected.name.debugDescription)")
        }
        let attributes = expected.attributes
            .map { ParsedElement.Attribute(name: $0.0, value: xmlSafe($0.1)) }
            .sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        guard parsed.attributes == attributes else {
            throw Violation("\(path): attributes \(parsed.attributes), expected \(attributes)")
        }
        guard parsed.otherNodes.isEmpty else { throw Violation("\(path): unexpected nodes of types \(parsed.otherNodes)") }
        if expected.children.isEmpty {
            guard parsed.text.utf8.elementsEqual(xmlSafe(expected.text ?? "").utf8) else {
                throw Violation("\(path): text \(parsed.text.debugDescription), expected \(xmlSafe(expected.text ?? "").debugDescription)")
            }
        } else {
            let text = expected.text.map(xmlSafe) ?? ""
            let found = Array(parsed.text.utf8)
            guard found.starts(with: text.utf8),
                  found.dropFirst(text.utf8.count).allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }) else {
                throw Violation("\(path): text \(parsed.text.debugDescription) beside child elements")
            }
        }
        guard parsed.children.count == expected.children.count else {
            throw Violation("\(path): \(parsed.children.count) child elements \(parsed.children.map(\.name)), expected \(expected.children.count) \(expected.children.map(\.name))")
        }
        for (index, (child, expectedChild)) in zip(parsed.children, expected.children).enumerated() {
            try matches(child, expectedChild, at: "\(path)/\(child.name)[\(index)]")
        }
    }

    /// A hot-plug device passes libvirt's schema where it would go: in a minimal domain's
    /// `<devices>` (the schema's start is a whole domain).
    static func conformsAsDevice(_ device: Element) throws(Violation) {
        let domain = Element("domain", [("type", "kvm")], children: [
            Element("name", text: "device-check"), Element("memory", text: "65536"),
            Element("os", children: [Element("type", text: "hvm")]),
            Element("devices", children: [device]),
        ])
        try conforms(domain.serialized(), to: LibvirtSchema.domain)
    }

    // MARK: The domain

    /// A document the service would define must be one libvirt's own schema accepts: the
    /// service validated the spec, so a refusal here is a rule its validation lacks.
    public static func conforms(_ xml: String, to schema: Result<LibvirtSchema, LibvirtSchema.Refusal>) throws(Violation) {
        do {
            try schema.get().validate(xml)
        } catch {
            throw Violation("an accepted spec rendered a document libvirt's schema refuses: \(error.description)\n\(xml)")
        }
    }

    /// Parses a domain document strictly and checks it against the spec of `definition`
    /// alone (not against the tree the builders made): the elements, their counts, and where
    /// each string of the spec is.
    public static func checkShape(ofDomainXML xml: String, for definition: GuestDefinition) throws(Violation) {
        try checkShape(try parse(xml), of: definition)
    }

    static func checkShape(_ domain: ParsedElement, of definition: GuestDefinition) throws(Violation) {
        try DomainShape(definition: definition, domain: domain).check()
    }

    /// Verifies the domain XML of a definition and its firewall filters; returns how many
    /// documents it checked.
    public static func verify(_ definition: GuestDefinition) throws(Violation) -> Int {
        let xml = GuestXML.xml(definition)
        let domain = try parse(xml)
        try matches(domain, GuestXML.config(definition), at: "domain")
        try checkShape(domain, of: definition)
        try conforms(xml, to: LibvirtSchema.domain)
        try checkFirstBoot(definition)

        let filters = GuestXML.firewallFilters(definition)
        let expectedFilters = definition.firewallFilters.keys.sorted().compactMap { index -> (String, InterfaceSpec.Firewall)? in
            guard let name = definition.firewallFilters[index], let firewall = definition.spec.interfaces[index].firewall
            else { return nil }
            return (name, firewall)
        }
        guard filters.count == expectedFilters.count else {
            throw Violation("\(filters.count) firewall filters for \(expectedFilters.count) interfaces with a firewall")
        }
        for (filter, (name, firewall)) in zip(filters, expectedFilters) {
            let parsed = try parse(filter.xml)
            try conforms(filter.xml, to: LibvirtSchema.nwfilter)
            try matches(parsed, FirewallConfig.filter(name: name, firewall: firewall), at: "filter")
            guard parsed.attribute("name").map({ Array($0.utf8) }) == Array(name.utf8), filter.name.utf8.elementsEqual(name.utf8) else { throw Violation("filter \(filter.name), expected \(name)") }
            let parameters = parsed.children.flatMap(\.children).filter { $0.name == "parameter" }
            guard parameters.compactMap({ $0.attribute("value").map { Array($0.utf8) } }) == firewall.allowedIPs.map({ Array($0.utf8) }) else {
                throw Violation("filter \(name): parameters \(parameters), expected the allowed IPs \(firewall.allowedIPs)")
            }
        }
        return 1 + filters.count
    }
}
