import Libvirt

extension Guest {
    /// What a domain patch can change, as the domain has it now (its live settings when it
    /// runs, its definition's when not).
    public struct Settings: Sendable, Hashable {
        public var autostart: Bool
        public var title: String?
        public var description: String?
        public var labels: [String: String]
    }

    public func settings() async throws(HostError) -> Settings {
        try await withDomain { domain in
            let root = try XMLTree(try domain.xml(), root: "domain").root
            return Settings(autostart: try domain.autostart(), title: root.childText("title"),
                            description: root.childText("description"),
                            labels: DomainLabels.labels(inMetadata: root.child("metadata")))
        }
    }

    public func setAutostart(_ autostart: Bool) async throws(HostError) {
        try await withDomain { try $0.setAutostart(autostart) }
    }

    func setMetadata(_ kind: DomainMetadataKind, _ value: String?, _ impact: DomainModificationImpact)
        async throws(HostError) {
        try await withDomain { try $0.setMetadata(kind, value, impact) }
    }

    func setLabels(_ labels: [String: String], _ impact: DomainModificationImpact) async throws(HostError) {
        try await setMetadata(DomainLabels.metadata, DomainLabels.xml(labels), impact)
    }
}
