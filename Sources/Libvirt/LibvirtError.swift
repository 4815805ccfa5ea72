import CLibvirt

/// The one error type of the binding: libvirt's last error, read on the thread of the
/// failing call (libvirt keeps it in thread-local storage, so it must be read before the
/// thread makes another libvirt call).
public struct LibvirtError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libvirt's `virErrorNumber` (for example 42, `VIR_ERR_NO_DOMAIN`).
    public let code: Int32
    /// libvirt's `virErrorDomain`: the part of libvirt that raised it.
    public let domain: Int32
    public let message: String

    public init(code: Int32, domain: Int32, message: String) {
        self.code = code
        self.domain = domain
        self.message = message
    }

    /// Reads and clears the calling thread's last libvirt error.
    /// - Parameter operation: named in the message when libvirt recorded no error.
    static func last(_ operation: String) -> LibvirtError {
        guard let error = virGetLastError() else {
            return LibvirtError(code: -1, domain: -1, message: "\(operation) failed without a libvirt error")
        }
        let result = LibvirtError(
            code: error.pointee.code,
            domain: Int32(error.pointee.domain),
            message: error.pointee.message.map { String(cString: $0) } ?? "\(operation) failed"
        )
        virResetLastError()
        return result
    }

    public var description: String { "libvirt error \(code) (domain \(domain)): \(message)" }

    /// The domain does not exist.
    public var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }
    /// The driver does not implement the call.
    public var isUnsupported: Bool { code == Int32(VIR_ERR_NO_SUPPORT.rawValue) }
    /// The network filter does not exist.
    public var isNoNWFilter: Bool { code == Int32(VIR_ERR_NO_NWFILTER.rawValue) }
    /// A flag or argument the driver does not accept.
    public var isInvalidArgument: Bool { code == Int32(VIR_ERR_INVALID_ARG.rawValue) }
    /// libvirt refused a definition for what it says (its XML, schema or configuration
    /// checks) rather than for the host's state: malformed or invalid XML, a document its
    /// RelaxNG schema refuses, a configuration or argument the driver does not take.
    public var isDefinitionRefusal: Bool {
        [VIR_ERR_XML_ERROR, VIR_ERR_XML_DETAIL, VIR_ERR_XML_INVALID_SCHEMA, VIR_ERR_CONFIG_UNSUPPORTED,
         VIR_ERR_ARGUMENT_UNSUPPORTED, VIR_ERR_INVALID_ARG].contains { code == Int32($0.rawValue) }
    }
    /// The call does not apply in the object's current state.
    public var isOperationInvalid: Bool { code == Int32(VIR_ERR_OPERATION_INVALID.rawValue) }

    /// Whether the error means the connection to the hypervisor is gone, with Nova's rule
    /// (host.py `_test_connection`): a system or internal error raised by the remote or RPC
    /// layer, or an invalid or missing connection.
    public var isConnectionLoss: Bool {
        let transport = [Int32(VIR_FROM_REMOTE.rawValue), Int32(VIR_FROM_RPC.rawValue)]
        switch code {
        case Int32(VIR_ERR_SYSTEM_ERROR.rawValue), Int32(VIR_ERR_INTERNAL_ERROR.rawValue):
            return transport.contains(domain)
        case Int32(VIR_ERR_NO_CONNECT.rawValue), Int32(VIR_ERR_INVALID_CONN.rawValue):
            return true
        default:
            return false
        }
    }
}
