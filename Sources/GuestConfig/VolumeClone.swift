import FoundationEssentials

/// `POST /v1/storage/pools/{pool}/volumes/{volume}/clone`: `{"name", "pool"}`; without
/// `pool`, the copy goes into the source's pool.
public struct VolumeClone: Sendable, Hashable {
    public var name: String
    public var pool: String?

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> VolumeClone {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let name = reader.string("name")
        let pool = reader.string("pool")
        reader.finish()
        if !reader.has("name") { errors.add("/name", "is required") }
        if let name, let refusal = StorageName.refusal(of: name) { errors.add("/name", refusal) }
        if let pool, let refusal = StorageName.referenceRefusal(of: pool) { errors.add("/pool", refusal) }
        guard errors.errors.isEmpty, let name else { throw GuestSpecError(errors.errors) }
        return VolumeClone(name: name, pool: pool)
    }
}
