import FoundationEssentials

/// `POST /v1/domains/{ref}/migration/tuning`: `{"max_downtime_ms", "bandwidth_mib_s"}`, at
/// least one, for the migration running now.
public struct MigrationTuning: Sendable, Hashable {
    public var maxDowntimeMilliseconds: Int?
    public var bandwidthMiBs: Int?

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> MigrationTuning {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let tuning = MigrationTuning(maxDowntimeMilliseconds: reader.int("max_downtime_ms", in: MigrationRequest.downtimeRange),
                                     bandwidthMiBs: reader.int("bandwidth_mib_s", in: MigrationRequest.bandwidthRange))
        reader.finish()
        if let value = tuning.maxDowntimeMilliseconds, !MigrationRequest.downtimeRange.contains(value) {
            errors.add("/max_downtime_ms", MigrationRequest.rangeDetail(MigrationRequest.downtimeRange, value))
        }
        if let value = tuning.bandwidthMiBs, !MigrationRequest.bandwidthRange.contains(value) {
            errors.add("/bandwidth_mib_s", MigrationRequest.rangeDetail(MigrationRequest.bandwidthRange, value))
        }
        if errors.errors.isEmpty, !reader.has("max_downtime_ms"), !reader.has("bandwidth_mib_s") {
            errors.add("", "give max_downtime_ms, bandwidth_mib_s or both")
        }
        guard errors.errors.isEmpty else { throw GuestSpecError(errors.errors) }
        return tuning
    }
}
