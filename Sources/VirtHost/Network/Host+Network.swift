import Libvirt

/// The host's networks, interfaces and network filters, as the VIF and firewall parts need them.
extension Host {
    /// Whether the libvirt network exists and is active; nil when it does not exist.
    public func networkIsActive(_ name: String) throws(HostError) -> Bool? {
        try withConnection { try $0.networkIsActive(name: name) }
    }

    /// Whether the host has an interface (a bridge, a NIC) of this name.
    public func hostInterfaceExists(_ name: String) throws(HostError) -> Bool {
        try withConnection { try $0.hostInterfaceExists(name: name) }
    }

    public func nwFilterNames() throws(HostError) -> [String] {
        try withConnection { try $0.listAllNWFilters().map { try $0.name() } }
    }

    public func nwFilterExists(_ name: String) throws(HostError) -> Bool {
        try withConnection { connection in
            do {
                _ = try connection.lookupNWFilter(name: name)
                return true
            } catch let error as LibvirtError where error.isNoNWFilter {
                return false
            }
        }
    }

    public func nwFilterXML(_ name: String) throws(HostError) -> String {
        try withConnection { try $0.lookupNWFilter(name: name).xml() }
    }

    public func defineNWFilter(xml: String) throws(HostError) {
        try withConnection { _ = try $0.defineNWFilter(xml: xml) }
    }

    public func undefineNWFilter(_ name: String) throws(HostError) {
        try withConnection { connection in
            do {
                try connection.lookupNWFilter(name: name).undefine()
            } catch let error as LibvirtError where error.isNoNWFilter {
                return  // gone already
            }
        }
    }

    /// The binding in force on a tap device, or nil.
    public func nwFilterBindingXML(portDevice: String) throws(HostError) -> String? {
        try withConnection { try $0.nwFilterBindingXML(portDevice: portDevice) }
    }
}
