import CLibvirt

extension Domain {
    /// A socket connected to the domain's graphics device number `index` (in the order of its
    /// XML's `<graphics>` elements), from `virDomainOpenGraphicsFD`: the caller owns the
    /// descriptor and closes it. `skipAuthentication` has QEMU skip the display's own password
    /// (the caller has authenticated the client already).
    public func openGraphicsDescriptor(index: UInt32, skipAuthentication: Bool) throws -> Int32 {
        let flags = skipAuthentication ? UInt32(VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH.rawValue) : 0
        return try LibvirtError.status("virDomainOpenGraphicsFD") { virDomainOpenGraphicsFD(handle, index, flags) }
    }

    /// Hands the caller's socket `descriptor` to the domain's graphics device number `index`
    /// as a new client (`virDomainOpenGraphics`); the caller keeps and closes its descriptor.
    public func openGraphics(index: UInt32, descriptor: Int32, skipAuthentication: Bool) throws {
        let flags = skipAuthentication ? UInt32(VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH.rawValue) : 0
        _ = try LibvirtError.status("virDomainOpenGraphics") { virDomainOpenGraphics(handle, index, descriptor, flags) }
    }
}
