import FoundationEssentials

/// The body of `POST /v1/domains/{ref}/console-tickets`: which console the ticket opens.
public struct ConsoleTicketRequest: Sendable, Equatable {
    public static let kinds = ["serial", "vnc"]
    /// One of ``kinds``.
    public let kind: String

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> ConsoleTicketRequest {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let kind = reader.choice("kind", kinds)
        reader.finish()
        if !reader.has("kind") { errors.add("/kind", "is required") }
        guard errors.errors.isEmpty, let kind else { throw GuestSpecError(errors.errors) }
        return ConsoleTicketRequest(kind: kind)
    }
}
