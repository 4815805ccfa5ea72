import Libvirt

extension Guest {
    /// A domain's vCPUs and memory as one side of it has them: the running domain or its
    /// definition.
    public struct Resources: Sendable, Hashable {
        public var vcpus: Int
        /// `<vcpu>`: the most vCPUs this side can have online.
        public var maxVCPUs: Int
        /// `<currentMemory>`: what the balloon gives (on a running domain, what it last reported).
        public var memoryKiB: UInt64
        /// `<memory>`: the most the balloon can give.
        public var maxMemoryKiB: UInt64

        init(xml: String) throws {
            let root = try XMLTree(xml, root: "domain").root
            func kibibytes(_ element: XMLTree.Element?) throws -> UInt64 {
                // libvirt writes both sizes in KiB whatever unit they were defined in.
                guard let element, element.attribute("unit") ?? "KiB" == "KiB",
                      let value = element.text.flatMap({ UInt64($0) }) else {
                    throw HostError.unreadable("the domain's XML has no memory size in KiB")
                }
                return value
            }
            guard let vcpu = root.child("vcpu"), let maximum = vcpu.text.flatMap({ Int($0) }) else {
                throw HostError.unreadable("the domain's XML has no vCPU count")
            }
            maxVCPUs = maximum
            vcpus = vcpu.attribute("current").flatMap { Int($0) } ?? maximum
            maxMemoryKiB = try kibibytes(root.child("memory"))
            memoryKiB = (try? kibibytes(root.child("currentMemory"))) ?? maxMemoryKiB
        }
    }

    /// The running domain's resources (nil when it is not running) and its definition's (nil
    /// when it has none).
    public func resources() async throws(HostError) -> (live: Resources?, config: Resources?) {
        try await withDomain { domain in
            let live = try domain.isActive() ? try Resources(xml: try domain.xml()) : nil
            let config = try domain.isPersistent() ? try Resources(xml: try domain.xml([.inactive])) : nil
            return (live, config)
        }
    }

    func setVCPUs(_ count: Int, _ impact: DomainModificationImpact) async throws(HostError) {
        try await withDomain { try $0.setVCPUs(count, impact) }
    }

    func setMemory(kibibytes: UInt64, _ impact: DomainModificationImpact) async throws(HostError) {
        try await withDomain { try $0.setMemory(kibibytes: kibibytes, impact) }
    }
}
