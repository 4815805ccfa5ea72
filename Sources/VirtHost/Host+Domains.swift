import FoundationEssentials
import Libvirt

/// Domain listing and lookup (Nova's `list_instance_domains` and `get_guest`).
extension Host {
    /// Which domains a listing returns, by activity.
    public enum DomainActivity: String, Sendable, CaseIterable {
        case active, inactive, all

        var filter: DomainListFilter {
            switch self {
            case .active: .active
            case .inactive: .inactive
            case .all: []
            }
        }
    }

    /// What a domain listing is asked for.
    struct DomainListingRequest: Hashable, Sendable {
        var activity: DomainActivity
        var guestsOnly: Bool
    }

    /// One sweep of libvirt's domains. Callers answered by the same sweep get the same `sweep`
    /// number, so what they make of it (a JSON document) can be made once.
    public struct DomainListing: Sendable {
        /// Grows by one with each sweep of this Host.
        public var sweep: UInt64
        public var domains: [DomainSummary]
    }

    /// Every domain matching `activity`. `guestsOnly` leaves out domain id 0, the host itself
    /// under Xen. A domain that vanishes while it is read (undefined in between) is left out.
    public nonisolated func domains(_ activity: DomainActivity = .all, guestsOnly: Bool = true) async throws(HostError)
        -> [DomainSummary] {
        try await domainListing(activity, guestsOnly: guestsOnly).domains
    }

    /// ``domains(_:guestsOnly:)`` with its sweep number. Callers that ask for the same listing
    /// while one runs share the next sweep (see ``CallCoalescer``): it starts after they
    /// asked, so it is as fresh as a sweep of their own.
    public nonisolated func domainListing(_ activity: DomainActivity = .all, guestsOnly: Bool = true)
        async throws(HostError) -> DomainListing {
        let request = DomainListingRequest(activity: activity, guestsOnly: guestsOnly)
        return try await domainListings.next(request) {
            Task { await self.answer(request) }
        }.get()
    }

    private func answer(_ request: DomainListingRequest) {
        domainListings.answer(request) {
            Result { () throws(HostError) in
                let domains = try listDomains(request.activity, guestsOnly: request.guestsOnly)
                domainSweeps += 1
                return DomainListing(sweep: domainSweeps, domains: domains)
            }
        }
    }

    /// The listing itself: one `virConnectListAllDomains` call, then per domain only what no
    /// listing can say (its info, UUID and id). Persistence and autostart come from two more
    /// listings, filtered to the transient and the autostarted domains (usually few), matched
    /// by name. Every libvirt call on a domain formats its UUID with printf for a debug line,
    /// logged or not, so on the test driver with 1,000 domains the two calls per domain this
    /// saves were a third of the listing.
    func listDomains(_ activity: DomainActivity, guestsOnly: Bool) throws(HostError) -> [DomainSummary] {
        try withConnection { connection in
            let transient = Set(try connection.listAllDomains(activity.filter.union(.transient)).map { try $0.name() })
            let autostart = Set(try connection.listAllDomains(activity.filter.union(.autostart)).map { try $0.name() })
            return try connection.listAllDomains(activity.filter).compactMap { domain -> DomainSummary? in
                let id = domain.id()
                if guestsOnly, id == 0 { return nil }
                do {
                    let name = try domain.name()
                    return try DomainSummary(domain, name: name, id: id, persistent: !transient.contains(name),
                                             autostart: autostart.contains(name),
                                             labels: try DomainLabels.labels(of: domain))
                } catch let error as LibvirtError where error.isNoDomain {
                    return nil
                }
            }.sorted { ($0.name, $0.uuid) < ($1.name, $1.uuid) }
        }
    }

    /// Names of every domain, in one `virConnectListAllDomains` call.
    public func domainNames(_ filter: DomainListFilter = []) throws(HostError) -> [String] {
        try withConnection { connection in try connection.listAllDomains(filter).map { try $0.name() } }
    }

    /// One domain, by UUID or name, with what its XML says.
    public func domain(_ reference: String) throws(HostError) -> DomainDetails {
        try withDomain(reference) { domain in
            let info = try domain.info()
            return try DomainDetails(summary: try DomainSummary(domain), cpuTimeNanoseconds: info.cpuTimeNanoseconds,
                                     xml: try domain.xml())
        }
    }

    /// Defines a persistent domain from `xml`, validated against libvirt's schema, and
    /// returns its guest. Creation with its checks and undo is ``Provisioning/createGuest(_:definition:)``.
    func define(xml: String, name: String, uuid: String) throws(HostError) -> Guest {
        // Checked again in the same turn as the define: libvirt would otherwise take a domain
        // with this name and UUID, made meanwhile by another client of libvirtd, as a redefinition.
        if let existing = try existingDomain(name: name, uuid: uuid) { throw .domainExists(existing) }
        return try withConnection { connection in
            let domain: Domain
            do {
                domain = try connection.defineDomain(xml: xml, flags: [.validate])
            } catch let error as LibvirtError where !error.isConnectionLoss {
                throw HostError.stepFailed(step: "define", error: error, rolledBack: false)
            }
            return Guest(host: self, uuid: try domain.uuid())
        }
    }

    /// Whether a domain with this name or UUID exists; the first of them that does, or nil.
    func existingDomain(name: String, uuid: String) throws(HostError) -> String? {
        try withConnection { connection in
            if (try? connection.lookupDomain(name: name)) != nil { return name }
            if (try? connection.lookupDomain(uuid: uuid)) != nil { return uuid }
            return nil
        }
    }

    /// A domain's XML: the live one, or the persistent definition when `inactive`.
    public func domainXML(_ reference: String, inactive: Bool = false, secure: Bool = false) throws(HostError) -> String {
        var flags: DomainXMLFlags = []
        if inactive { flags.insert(.inactive) }
        if secure { flags.insert(.secure) }
        return try withDomain(reference) { try $0.xml(flags) }
    }

    /// Runs `body` with the domain `reference` names: a UUID (with or without dashes) or a
    /// name. Unknown references throw ``HostError/domainNotFound(_:)``.
    /// Internal: outside this module, per-domain work goes through ``Guest``.
    func withDomain<T>(_ reference: String, _ body: (Domain) throws -> T) throws(HostError) -> T {
        try withConnection { connection in
            let domain: Domain
            do {
                if Self.looksLikeUUID(reference), let byUUID = try? connection.lookupDomain(uuid: reference) {
                    domain = byUUID
                } else {
                    domain = try connection.lookupDomain(name: reference)
                }
            } catch let error as LibvirtError where error.isNoDomain {
                throw HostError.domainNotFound(reference)
            }
            do {
                return try body(domain)
            } catch let error as LibvirtError where error.isNoDomain {
                throw HostError.domainNotFound(reference)
            } catch let error as XMLTree.ParseError {
                throw HostError.unreadable(error.description)
            }
        }
    }

    static func looksLikeUUID(_ text: String) -> Bool {
        let hex = text.filter { $0 != "-" }
        return (text.count == 36 || text.count == 32) && hex.count == 32 && hex.allSatisfy(\.isHexDigit)
    }

    /// Statistics of every domain for `/metrics`, in one `virConnectGetAllDomainStats` call
    /// with NOWAIT, so a domain busy with a long job cannot hang the scrape.
    public func domainStatistics() throws(HostError) -> [DomainStatistics] {
        try withConnection { connection in
            let records = try connection.allDomainStats([.state, .cpu, .balloon, .vcpu, .interface, .block],
                                                        flags: [.noWait])
            return records.compactMap { record in
                guard let summary = try? DomainSummary(record.domain) else { return nil }
                // cpu.time where the driver gives statistics, else virDomainGetInfo's.
                let cpuTime = record.parameters["cpu.time"]?.number.map { UInt64($0) }
                    ?? (try? record.domain.info().cpuTimeNanoseconds) ?? 0
                return DomainStatistics(summary: summary, cpuTimeNanoseconds: cpuTime, parameters: record.parameters)
            }.sorted { $0.summary.name < $1.summary.name }
        }
    }
}

/// One domain's summary with libvirt's statistics (`state.state`, `cpu.time`,
/// `block.0.rd.bytes`...).
public struct DomainStatistics: Sendable {
    public var summary: DomainSummary
    public var cpuTimeNanoseconds: UInt64
    public var parameters: [TypedParameter]
}
