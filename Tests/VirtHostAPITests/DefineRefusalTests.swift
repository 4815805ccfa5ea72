import CLibvirt
import Foundation
import GuestConfig
import HTTPServer
import Libvirt
import Testing
import TestSupport
import VirtHost
@testable import VirtHostAPI

/// A spec problem libvirt finds at define time (a newer libvirt may check more than the
/// service does) is the spec's fault: a 422 invalid-guest-spec problem at the spec as a whole
/// (`pointer: ""`) with libvirt's message, not a 500. The errors are libvirt's own, from a
/// real define.
@Suite(.paced) struct DefineRefusalTests {
    static func defineError(uri: String, xml: String) throws -> LibvirtError {
        let connection = try Connection(uri: uri)
        return try #require(throws: LibvirtError.self) { _ = try connection.defineDomain(xml: xml, flags: [.validate]) }
    }

    static func domain(_ name: String, type: String, devices: String = "", vcpus: String = "1") -> String {
        """
        <domain type='\(type)'><name>\(name)</name><memory unit='MiB'>64</memory><vcpu>\(vcpus)</vcpu>
        <os><type arch='x86_64'>hvm</type></os><devices>\(devices)</devices></domain>
        """
    }

    static func expectSpecRefusal(_ error: LibvirtError, _ comment: Comment? = nil) {
        #expect(error.isDefinitionRefusal, comment)
        let problem = APIProblem.from(HostError.stepFailed(step: "define", error: error, rolledBack: false))
        #expect(problem.status == 422, comment)
        #expect(problem.type == Problem.type(APIProblem.invalidGuestSpec))
        guard case .array(let errors) = problem.extensions["errors"], errors.count == 1,
              case .object(let first) = errors[0] else {
            Issue.record("no field errors in \(problem)")
            return
        }
        #expect(first["pointer"] == .string(""))
        #expect(first["detail"] == .string("libvirt refused the domain: \(error.message)"))
    }

    @Test func schemaAndXMLErrorsOfTheTestDriverAre422() throws {
        let name = "virthost-refusal-\(UInt32.random(in: 0...UInt32.max))"
        // The RelaxNG schema refuses a vCPU count past an unsigned short.
        Self.expectSpecRefusal(try Self.defineError(uri: "test:///default", xml: Self.domain(name, type: "test", vcpus: "65536")))
        // Not XML at all.
        Self.expectSpecRefusal(try Self.defineError(uri: "test:///default", xml: "<domain"))
    }

    @Test func otherDefineErrorsStayWhatTheyWere() throws {
        let error = LibvirtError(code: Int32(VIR_ERR_INTERNAL_ERROR.rawValue), domain: 0, message: "boom")
        #expect(!error.isDefinitionRefusal)
        let problem = APIProblem.from(HostError.stepFailed(step: "define", error: error, rolledBack: false))
        #expect(problem.status == 500)
        // A start that fails is not the spec's fault as libvirt sees it: still the step's failure.
        let start = APIProblem.from(HostError.stepFailed(step: "start", error: LibvirtError(
            code: Int32(VIR_ERR_CONFIG_UNSUPPORTED.rawValue), domain: 0, message: "no"), rolledBack: true))
        #expect(start.status != 422)
    }

    /// QEMU's own define-time check, past the schema: a throttle over 10^15.
    @Test(.enabled(if: RealLibvirtd.uri != nil, "VIRTHOST_TEST_QEMU_URI names a real libvirtd"))
    func qemusConfigurationChecksAre422() throws {
        let name = "virthost-refusal-\(UInt32.random(in: 0...UInt32.max))"
        let disk = """
            <disk type='file' device='disk'><driver name='qemu' type='raw'/>
            <source file='/var/lib/libvirt/images/\(name).img'/><target dev='vda' bus='virtio'/>
            <iotune><total_bytes_sec>1000000000000001</total_bytes_sec></iotune></disk>
            """
        let error = try Self.defineError(uri: RealLibvirtd.uri ?? "qemu:///system",
                                         xml: Self.domain(name, type: RealLibvirtd.virtType, devices: disk))
        #expect(error.message.contains("1000000000000000"), "\(error)")
        Self.expectSpecRefusal(error, "\(error)")
    }
}
