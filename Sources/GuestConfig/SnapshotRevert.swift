import FoundationEssentials

/// `POST /v1/domains/{ref}/snapshots/{name}/revert`: `{"start", "paused"}`, both false by
/// default (the domain takes the snapshot's own state).
public struct SnapshotRevert: Sendable, Hashable {
    public var start: Bool
    public var paused: Bool

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> SnapshotRevert {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let start = reader.bool("start") ?? false
        let paused = reader.bool("paused") ?? false
        reader.finish()
        guard errors.errors.isEmpty else { throw GuestSpecError(errors.errors) }
        return SnapshotRevert(start: start, paused: paused)
    }
}
