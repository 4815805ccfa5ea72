import CLibvirt

/// The one error type of the binding: libvirt's error, copied inside the call that failed.
///
/// libvirt keeps the last error in thread-local storage. Every call of the binding goes
/// through ``call(_:_:)`` or ``status(_:_:)``, which make the C call and, when it fails, copy
/// its error (`virCopyLastError`) before returning, as libvirt-go-module's C wrappers do. So
/// no other libvirt call can come in between on that thread, and the binding is correct from
/// any thread: which thread runs a call is a matter of serialising the connection (the Host
/// actor does that), not of finding the error.
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

    /// Makes one libvirt call whose failure is a NULL result, and copies its error inside
    /// the same call. `operation` is the C function's name, named when libvirt recorded no error.
    @inline(__always)
    static func call<T>(_ operation: String, _ body: () -> T?) throws(LibvirtError) -> T {
        guard let result = body() else { throw capture(operation) }
        return result
    }

    /// ``call(_:_:)`` for a lookup: nil when the call fails with `absent` (no such object).
    @inline(__always)
    static func call<T>(_ operation: String, absentWhen absent: virErrorNumber, _ body: () -> T?) throws(LibvirtError) -> T? {
        if let result = body() { return result }
        let error = capture(operation)
        guard error.code == Int32(absent.rawValue) else { throw error }
        return nil
    }

    /// Makes one libvirt call whose failure is a negative status, and copies its error inside
    /// the same call. Returns the status (a count, a boolean) when it succeeds.
    @inline(__always) @discardableResult
    static func status(_ operation: String, _ body: () -> Int32) throws(LibvirtError) -> Int32 {
        let status = body()
        guard status >= 0 else { throw capture(operation) }
        return status
    }

    /// Copies and clears the calling thread's last libvirt error. Only ``call(_:_:)``,
    /// ``status(_:_:)`` and callbacks that fail inside libvirt call it, right after the C call.
    static func capture(_ operation: String) -> LibvirtError {
        var copy = virError()
        // virCopyLastError deep-copies the thread's error (message included) and returns its
        // code, 0 when there is none; virResetError frees the copy's strings.
        let code = virCopyLastError(&copy)
        defer {
            virResetError(&copy)
            virResetLastError()
        }
        guard code > 0 else {
            return LibvirtError(code: -1, domain: -1, message: "\(operation) failed without a libvirt error")
        }
        return LibvirtError(code: copy.code, domain: Int32(copy.domain),
                            message: copy.message.map { String(cString: $0) } ?? "\(operation) failed")
    }

    /// The name kept for code outside this file (DomainStats.swift) that reads the error
    /// right after its call, on the same thread.
    static func last(_ operation: String) -> LibvirtError { capture(operation) }

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
