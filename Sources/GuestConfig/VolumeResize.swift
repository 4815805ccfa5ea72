import FoundationEssentials

/// `POST /v1/storage/pools/{pool}/volumes/{volume}/resize`: `{"capacity_bytes"}`, the new size.
public struct VolumeResize: Sendable, Hashable {
    public var capacityBytes: Int

    public init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> VolumeResize {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let capacity = reader.int("capacity_bytes", in: 1...VolumeCreation.maximumCapacity)
        reader.finish()
        if !reader.has("capacity_bytes") { errors.add("/capacity_bytes", "is required") }
        if let capacity, !(1...VolumeCreation.maximumCapacity).contains(capacity) {
            errors.add("/capacity_bytes", "must be between 1 and \(VolumeCreation.maximumCapacity)")
        }
        guard errors.errors.isEmpty, let capacity else { throw GuestSpecError(errors.errors) }
        return VolumeResize(capacityBytes: capacity)
    }
}
