import GuestConfig
import HTTPServer
import Libvirt
import VirtHost

/// The service's problem types beyond the server's own (``Problem/Kind``). Each `type` URI
/// is stable; `openapi/openapi.yaml` lists them.
enum APIProblem {
    static let hypervisorUnavailable = "hypervisor-unavailable"
    static let libvirtError = "libvirt-error"
    static let unsupportedByDriver = "unsupported-by-driver"
    static let domainNotFound = "domain-not-found"
    static let invalidGuestSpec = "invalid-guest-spec"
    static let domainExists = "domain-exists"
    static let invalidState = "invalid-state"
    static let operationFailed = "operation-failed"
    static let deviceNotFound = "device-not-found"
    static let malformedJSON = "malformed-json"

    static func from(_ error: HostError) -> Problem {
        switch error {
        case .hypervisorUnavailable(let reason, let retryAfter):
            let seconds = max(1, Int(retryAfter.components.seconds) + (retryAfter.components.attoseconds > 0 ? 1 : 0))
            return Problem(type: Problem.type(hypervisorUnavailable), title: "Hypervisor Unavailable", status: 503,
                           detail: reason, extensions: ["retry_after_s": .int(seconds)],
                           headers: [("Retry-After", String(seconds))])
        case .libvirt(let error):
            return from(error)
        case .domainNotFound(let reference):
            return Problem(type: Problem.type(domainNotFound), title: "Domain Not Found", status: 404,
                           detail: "no domain has the UUID or name \(reference)",
                           extensions: ["domain": .string(reference)])
        case .domainExists(let reference):
            return Problem(type: Problem.type(domainExists), title: "Domain Exists", status: 409,
                           detail: "a domain named or with UUID \(reference) exists already",
                           extensions: ["domain": .string(reference)])
        case .invalidState(let action, let state):
            return Problem(type: Problem.type(invalidState), title: "Invalid State", status: 409,
                           detail: "cannot \(action) a domain that is \(state)",
                           extensions: ["state": .string(state), "action": .string(action)])
        case .stepFailed("define", let error, _) where error.isDefinitionRefusal:
            // The service's validation should have caught it (a newer libvirt may check more):
            // it is still the spec's fault, told as a field error at the spec as a whole.
            var problem = GuestSpecError([FieldError(pointer: "", detail: "libvirt refused the domain: \(error.message)")]).problem
            problem.extensions["libvirt"] = .object(["code": .int(Int(error.code)), "domain": .int(Int(error.domain)),
                                                     "message": .string(error.message)])
            problem.extensions["step"] = .string("define")
            return problem
        case .stepFailed(let step, let error, let rolledBack):
            var problem = from(error)
            if problem.status == 500 {
                problem.type = Problem.type(operationFailed)
                problem.title = "Operation Failed"
            }
            problem.detail = "\(step) failed: \(error.message)" + (rolledBack ? "; the domain it defined was removed" : "")
            problem.extensions["step"] = .string(step)
            problem.extensions["rolled_back"] = .bool(rolledBack)
            return problem
        case .deviceNotFound(let identifier):
            return Problem(type: Problem.type(deviceNotFound), title: "Device Not Found", status: 404,
                           detail: "the domain has no disk target, interface MAC or PCI address \(identifier)",
                           extensions: ["device": .string(identifier)])
        case .unreadable(let reason):
            return Problem(type: Problem.type(libvirtError), title: "libvirt Error", status: 500,
                           detail: "libvirt returned a document that cannot be read: \(reason)")
        }
    }

    static func from(_ error: LibvirtError) -> Problem {
        let extensions: [String: JSONValue] = [
            "libvirt": .object(["code": .int(Int(error.code)), "domain": .int(Int(error.domain)),
                                "message": .string(error.message)]),
        ]
        if error.isNoDomain {
            return Problem(type: Problem.type(domainNotFound), title: "Domain Not Found", status: 404,
                           detail: error.message, extensions: extensions)
        }
        if error.isUnsupported {
            return Problem(type: Problem.type(unsupportedByDriver), title: "Not Supported by the Driver", status: 501,
                           detail: error.message, extensions: extensions)
        }
        return Problem(type: Problem.type(libvirtError), title: "libvirt Error", status: 500, detail: error.message,
                       extensions: extensions)
    }
}

extension HostError: ProblemConvertible {
    public var problem: Problem { APIProblem.from(self) }
}
