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
        guard let name = virNWFilterGetName(handle) else { throw LibvirtError.last("virNWFilterGetName") }
        return String(cString: name)
    }

    public func xml() throws -> String {
        guard let xml = virNWFilterGetXMLDesc(handle, 0) else { throw LibvirtError.last("virNWFilterGetXMLDesc") }
        defer { free(xml) }
        return String(cString: xml)
    }

    public func undefine() throws {
        guard virNWFilterUndefine(handle) == 0 else { throw LibvirtError.last("virNWFilterUndefine") }
    }
}

extension Connection {
    public func lookupNWFilter(name: String) throws -> NWFilter {
        guard let filter = virNWFilterLookupByName(handle, name) else { throw LibvirtError.last("virNWFilterLookupByName") }
        return NWFilter(taking: filter)
    }

    public func defineNWFilter(xml: String) throws -> NWFilter {
        guard let filter = virNWFilterDefineXML(handle, xml) else { throw LibvirtError.last("virNWFilterDefineXML") }
        return NWFilter(taking: filter)
    }

    public func listAllNWFilters() throws -> [NWFilter] {
        var list: UnsafeMutablePointer<virNWFilterPtr?>?
        let count = virConnectListAllNWFilters(handle, &list, 0)
        guard count >= 0 else { throw LibvirtError.last("virConnectListAllNWFilters") }
        guard let list else { return [] }
        defer { free(list) }
        return (0..<Int(count)).compactMap { list[$0].map(NWFilter.init(taking:)) }
    }

    /// The XML of the filter binding on a port (tap) device, or nil when none is in force
    /// (`virNWFilterBindingLookupByPortDev`).
    public func nwFilterBindingXML(portDevice: String) throws -> String? {
        guard let binding = virNWFilterBindingLookupByPortDev(handle, portDevice) else {
            let error = LibvirtError.last("virNWFilterBindingLookupByPortDev")
            if error.code == Int32(VIR_ERR_NO_NWFILTER_BINDING.rawValue) { return nil }
            throw error
        }
        defer { virNWFilterBindingFree(binding) }
        guard let xml = virNWFilterBindingGetXMLDesc(binding, 0) else {
            throw LibvirtError.last("virNWFilterBindingGetXMLDesc")
        }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Whether the libvirt network `name` exists, and whether it is active; nil when it does not exist.
    public func networkIsActive(name: String) throws -> Bool? {
        guard let network = virNetworkLookupByName(handle, name) else {
            let error = LibvirtError.last("virNetworkLookupByName")
            if error.code == Int32(VIR_ERR_NO_NETWORK.rawValue) { return nil }
            throw error
        }
        defer { virNetworkFree(network) }
        let active = virNetworkIsActive(network)
        guard active >= 0 else { throw LibvirtError.last("virNetworkIsActive") }
        return active == 1
    }

    /// Whether the host has a network interface (a bridge, a NIC) named `name`, as libvirt's
    /// interface driver sees it.
    public func hostInterfaceExists(name: String) throws -> Bool {
        guard let interface = virInterfaceLookupByName(handle, name) else {
            let error = LibvirtError.last("virInterfaceLookupByName")
            if error.code == Int32(VIR_ERR_NO_INTERFACE.rawValue) { return false }
            throw error
        }
        virInterfaceFree(interface)
        return true
    }
}
