import Libvirt

/// A guest's disk's size, as the API shows it after a resize: what the guest sees
/// (`capacity_bytes`), what the image takes on the host (`allocation_bytes`) and the size of
/// its container (`physical_bytes`), from `virDomainGetBlockInfo`.
public struct DiskSize: Sendable, Hashable, Encodable {
    public var target: String
    public var capacityBytes: UInt64
    public var allocationBytes: UInt64
    public var physicalBytes: UInt64

    init(target: String, _ info: BlockInfo) {
        self.target = target
        capacityBytes = info.capacity
        allocationBytes = info.allocation
        physicalBytes = info.physical
    }

    enum CodingKeys: String, CodingKey {
        case target
        case capacityBytes = "capacity_bytes"
        case allocationBytes = "allocation_bytes"
        case physicalBytes = "physical_bytes"
    }
}
