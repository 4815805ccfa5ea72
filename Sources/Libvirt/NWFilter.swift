import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// One network filter (`virNWFilterPtr`), freed when the last reference goes.
public final class NWFilter {
    let handle: virNWFilterPtr

    init(taking handle: virNWFilterPtr) { self.handle = handle }

    deinit { virNWFilterFree(handle) }

    public func name() throws -> String {
        let name = try LibvirtError.call("virNWFilterGetName") { virNWFilterGetName(handle) }
        return String(cString: name)
    }

    public func xml() throws -> String {
        let xml = try LibvirtError.call("virNWFilterGetXMLDesc") { virNWFilterGetXMLDesc(handle, 0) }
        defer { free(xml) }
        return String(cString: xml)
    }

    public func undefine() throws {
        try LibvirtError.status("virNWFilterUndefine") { virNWFilterUndefine(handle) }
    }
}

extension Connection {
    public func lookupNWFilter(name: String) throws -> NWFilter {
        let filter = try LibvirtError.call("virNWFilterLookupByName") { virNWFilterLookupByName(handle, name) }
        return NWFilter(taking: filter)
    }

    public func defineNWFilter(xml: String) throws -> NWFilter {
        let filter = try LibvirtError.call("virNWFilterDefineXML") { virNWFilterDefineXML(handle, xml) }
        return NWFilter(taking: filter)
    }

    public func listAllNWFilters() throws -> [NWFilter] {
        var list: UnsafeMutablePointer<virNWFilterPtr?>?
        let count = try LibvirtError.status("virConnectListAllNWFilters") { virConnectListAllNWFilters(handle, &list, 0) }
        return takeAll(list, count: count, NWFilter.init(taking:))
    }

    /// The XML of the filter binding on a port (tap) device, or nil when none is in force
    /// (`virNWFilterBindingLookupByPortDev`).
    public func nwFilterBindingXML(portDevice: String) throws -> String? {
        guard let binding = try LibvirtError.call("virNWFilterBindingLookupByPortDev", absentWhen: VIR_ERR_NO_NWFILTER_BINDING, { virNWFilterBindingLookupByPortDev(handle, portDevice) })
        else { return nil }
        defer { virNWFilterBindingFree(binding) }
        let xml = try LibvirtError.call("virNWFilterBindingGetXMLDesc") { virNWFilterBindingGetXMLDesc(binding, 0) }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Whether the libvirt network `name` exists, and whether it is active; nil when it does not exist.
    public func networkIsActive(name: String) throws -> Bool? {
        guard let network = try LibvirtError.call("virNetworkLookupByName", absentWhen: VIR_ERR_NO_NETWORK, { virNetworkLookupByName(handle, name) })
        else { return nil }
        defer { virNetworkFree(network) }
        let active = try LibvirtError.status("virNetworkIsActive") { virNetworkIsActive(network) }
        return active == 1
    }

    /// Whether the host has a network interface (a bridge, a NIC) named `name`, as libvirt's
    /// interface driver sees it.
    public func hostInterfaceExists(name: String) throws -> Bool {
        guard let interface = try LibvirtError.call("virInterfaceLookupByName", absentWhen: VIR_ERR_NO_INTERFACE, { virInterfaceLookupByName(handle, name) })
        else { return false }
        virInterfaceFree(interface)
        return true
    }
}
