import GuestConfig
import HTTPServer
import Locking
import VirtHost

/// `/v1/domains...`: listing and reading domains.
struct DomainRoutes {
    let host: Host
    let lastList = LastDomainList()

    struct DomainList: Encodable {
        let domains: [DomainSummary]
    }

    /// The last listing's document. Requests answered by the same sweep (the Host shares one
    /// among requests that arrive together) share its bytes: writing a thousand domains'
    /// JSON once, not once per request.
    final class LastDomainList: Sendable {
        private let last = Mutex<(sweep: UInt64, body: [UInt8])?>(nil)

        func body(for listing: Host.DomainListing) throws -> [UInt8] {
            if let last = last.withLock({ $0 }), last.sweep == listing.sweep { return last.body }
            let body = try JSONWriter.encode(DomainList(domains: listing.domains))
            last.withLock { last in
                if (last?.sweep ?? 0) < listing.sweep { last = (listing.sweep, body) }
            }
            return body
        }
    }

    func register(in router: inout Router) {
        router.get("/v1/domains") { [host, lastList] request in
            let activity = try request.choice("state", default: Host.DomainActivity.all)
            let guestsOnly = try request.bool("guests_only", default: true)
            let labels = try DomainRoutes.labelFilter(request)
            let listing = try await host.domainListing(activity, guestsOnly: guestsOnly)
            guard !labels.isEmpty else {
                return Response(contentType: "application/json", body: try lastList.body(for: listing))
            }
            let matching = listing.domains.filter { domain in labels.allSatisfy { domain.labels[$0.key] == $0.value } }
            return Response(contentType: "application/json", body: try JSONWriter.encode(DomainList(domains: matching)))
        }
        router.get("/v1/domains/{ref}") { [host] request in
            .json(try await host.domain(request.pathParameter("ref") ?? ""))
        }
        // Secure XML carries console passwords: it needs write (any value of secure but a
        // false one asks for it, so a repeated or odd value is never read as false).
        let xmlAccess = RouteAccess.decided { request in
            request.queryValues("secure").contains { !["false", "0", "no"].contains($0.lowercased()) } ? .write : .read
        }
        router.get("/v1/domains/{ref}/xml", options: RouteOptions(access: xmlAccess)) { [host] request in
            let format = try request.documentFormat(preferred: .xml)
            let inactive = try request.bool("inactive", default: false)
            let secure = try request.bool("secure", default: false)
            let xml = try await host.domainXML(request.pathParameter("ref") ?? "", inactive: inactive, secure: secure)
            return .document(xml: xml, as: format)
        }
    }

    /// `?label=key=value`, repeatable: every pair must match. A key, then `=`, then the value
    /// (which may itself hold `=`).
    static func labelFilter(_ request: Request) throws -> [(key: String, value: String)] {
        try request.queryValues("label").map { pair in
            // By bytes: "=" and a combining mark after it are one Character.
            guard let equals = pair.utf8.firstIndex(of: UInt8(ascii: "=")),
                  DomainPatch.isValidLabelKey(String(pair[..<equals])) else {
                throw Problem.badRequest("label must be key=value with a label key (1 to 63 letters, digits, '.', '_', "
                                         + "'-' or '/', starting with a letter or digit), got \(pair)", parameter: "label")
            }
            return (String(pair[..<equals]), String(pair[pair.utf8.index(after: equals)...]))
        }
    }
}
