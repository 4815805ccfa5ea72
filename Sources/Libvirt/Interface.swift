import CLibvirt

/// One host network interface as libvirt's interface driver sees it (`virInterfacePtr`),
/// freed when the last reference goes.
public final class Interface {
    let handle: virInterfacePtr

    init(taking handle: virInterfacePtr) { self.handle = handle }

    deinit { virInterfaceFree(handle) }
}

extension Connection {
    /// The host interface of this name (a bridge, a NIC); nil when there is none
    /// (`virInterfaceLookupByName`).
    public func lookupInterface(name: String) throws -> Interface? {
        try LibvirtError.call("virInterfaceLookupByName", absentWhen: VIR_ERR_NO_INTERFACE) {
            virInterfaceLookupByName(handle, name)
        }.map(Interface.init(taking:))
    }
}
