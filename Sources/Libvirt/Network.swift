import CLibvirt

/// One virtual network (`virNetworkPtr`), freed when the last reference goes.
public final class Network {
    let handle: virNetworkPtr

    init(taking handle: virNetworkPtr) { self.handle = handle }

    deinit { virNetworkFree(handle) }

    public func isActive() throws -> Bool {
        try LibvirtError.status("virNetworkIsActive") { virNetworkIsActive(handle) } == 1
    }
}

extension Connection {
    /// The network of this name; nil when there is none (`virNetworkLookupByName`).
    public func lookupNetwork(name: String) throws -> Network? {
        try LibvirtError.call("virNetworkLookupByName", absentWhen: VIR_ERR_NO_NETWORK) {
            virNetworkLookupByName(handle, name)
        }.map(Network.init(taking:))
    }
}
