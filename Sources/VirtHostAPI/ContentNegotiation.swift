import HTTPServer

/// The two forms of a document the API also has as XML (rendered guests, capabilities, domain
/// XML): chosen by `?format=`, else by the `Accept` header.
enum DocumentFormat: String, CaseIterable, Sendable {
    case json, xml

    /// A document wrapped for JSON clients: `{"xml": "…"}`.
    struct WrappedXML: Encodable {
        let xml: String
    }
}

extension Request {
    /// `?format=json|xml` when given (any other value is a 400 naming `format`); otherwise the
    /// form `Accept` prefers, and `preferred` when it names neither or both equally. Only
    /// explicit `application/json` and `application/xml` (or `text/xml`) count: `*/*` and
    /// `application/*` leave the choice to the endpoint, so a client that asks for nothing
    /// in particular gets the endpoint's usual form.
    func documentFormat(preferred: DocumentFormat) throws(Problem) -> DocumentFormat {
        if query("format") != nil { return try choice("format", default: preferred) }
        guard let accept = headers["Accept"] else { return preferred }
        var json: Double?
        var xml: Double?
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingWhitespace().lowercased() }
            guard let mediaType = parts.first else { continue }
            // RFC 9110 §12.4.2: q is 0 to 1, 1 when absent; an unreadable q counts as absent.
            let quality = parts.dropFirst().lazy
                .compactMap { $0.hasPrefix("q=") ? Double($0.dropFirst(2)) : nil }
                .first.map { min(max($0, 0), 1) } ?? 1
            switch mediaType {
            case "application/json": json = max(json ?? 0, quality)
            case "application/xml", "text/xml": xml = max(xml ?? 0, quality)
            default: continue
            }
        }
        switch (json, xml) {
        case let (json?, xml?) where json != xml: return json > xml ? .json : .xml
        case (let json?, nil) where json > 0: return .json
        case (nil, let xml?) where xml > 0: return .xml
        default: return preferred
        }
    }
}

extension Response {
    /// An XML document in the form the request asked for: as it is, or wrapped as JSON.
    /// `Vary: Accept` tells caches the answer depends on that header.
    static func document(xml: String, as format: DocumentFormat) -> Response {
        var response = format == .json ? Response.json(DocumentFormat.WrappedXML(xml: xml))
            : Response(contentType: "application/xml", text: xml)
        response.headers.add("Vary", "Accept")
        return response
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
