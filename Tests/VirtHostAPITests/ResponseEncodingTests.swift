import Foundation
@testable import HTTPServer
import Libvirt
import Logging
import Testing
import TestSupport
@testable import VirtHost
@testable import VirtHostAPI

/// The service's real response documents, read from the test driver, written by
/// ``JSONWriter`` and by Foundation's `JSONEncoder` with the same settings: the bytes must be
/// the same, and the writer must write them itself (no fallback).
@Suite(.paced) struct ResponseEncodingTests {
    let host = VirtHost.Host(configuration: .init(uri: Fixtures.domainsInEveryStateURI, instancesPath: NSTemporaryDirectory()),
                             logger: Logger(label: "test"))

    static func expectSame<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try JSONWriter.foundationEncoder().encode(value)
        let encoder = JSONWriterEncoder()
        try encoder.writeDocument(value)
        #expect(encoder.bytes.count > 2, sourceLocation: sourceLocation)
        #expect(String(decoding: encoder.bytes, as: UTF8.self) == String(decoding: expected, as: UTF8.self),
                sourceLocation: sourceLocation)
    }

    @Test func domainDocuments() async throws {
        let domains = try await host.domains()
        #expect(domains.count == 4)
        // Running and shut off: ids present and null.
        #expect(domains.contains { $0.id == nil } && domains.contains { $0.id != nil })
        try Self.expectSame(DomainRoutes.DomainList(domains: domains))
        for domain in domains {
            try Self.expectSame(try await host.domain(domain.name))
        }
    }

    @Test func hostDocuments() async throws {
        let summary = try await host.summary()
        try Self.expectSame(HostDocument(summary))
        try Self.expectSame(try await host.metrics(maxAge: .zero))
        try Self.expectSame(try await host.capabilities())
        let check = VersionCheck(libvirt: LibvirtVersion(major: 1, minor: 2, micro: 3), hypervisor: nil,
                                 hypervisorType: "TEST", comparison: .minimum)
        try Self.expectSame(VersionCheckDocument(check: check, satisfied: await host.check(check), host: summary))
    }

    @Test func domainCapabilities() throws {
        let xml = """
            <domainCapabilities>
              <path>/usr/bin/qemu-system-x86_64</path><domain>kvm</domain><machine>pc-q35-7.2</machine>
              <arch>x86_64</arch><vcpu max='255'/>
              <os supported='yes'><enum name='firmware'><value>efi</value></enum>
                <loader supported='yes'><enum name='type'><value>rom</value><value>pflash</value></enum></loader></os>
              <cpu>
                <mode name='host-passthrough' supported='yes'/>
                <mode name='host-model' supported='yes'><model fallback='forbid'>Skylake-Client-IBRS</model>
                  <vendor>Intel</vendor><feature policy='require' name='ss'/><feature policy='disable' name='vmx'/></mode>
                <mode name='custom' supported='yes'><model usable='yes' vendor='Intel'>qemu64</model>
                  <model usable='no' vendor='AMD'>EPYC</model><model>max</model></mode>
              </cpu>
              <devices>
                <disk supported='yes'><enum name='bus'><value>virtio</value><value>sata</value></enum>
                  <enum name='diskDevice'><value>disk</value><value>cdrom</value></enum></disk>
                <video supported='no'/>
              </devices>
              <features><sev supported='no'/><vmcoreinfo supported='yes'/><gic supported='no'/></features>
            </domainCapabilities>
            """
        try Self.expectSame(try DomainCapabilities(xml: xml))
    }

    @Test func eventDocuments() throws {
        let time = Date(timeIntervalSince1970: 1_795_554_756.75)
        let events = [
            HostEvent(kind: .lifecycle, time: time, domainName: "test", domainUUID: "6695eb01-f6a4-8304-79aa-97f2502e193f",
                      event: "suspended", detail: "paused", state: "paused"),
            HostEvent(kind: .lifecycle, time: time, domainName: "gäst \"1\"", domainUUID: "u", event: "started",
                      detail: "booted", state: "running", synthetic: true),
            HostEvent(kind: .reboot, time: time, domainName: "test", domainUUID: "u"),
            HostEvent(kind: .deviceRemoved, time: time, domainName: "test", domainUUID: "u", device: "virtio-disk1"),
            HostEvent(kind: .connection, time: time, event: "lost", reason: "keepalive timeout / EOF"),
            HostEvent(kind: .connection, time: time, event: "restored"),
        ]
        for (index, event) in events.enumerated() {
            var event = event
            event.id = 1_795_554_756_000_000 + UInt64(index)
            try Self.expectSame(EventDocument(event))
        }
    }

    @Test func guestAndFirewallDocuments() throws {
        try Self.expectSame(DocumentFormat.WrappedXML(xml: "<domain type='kvm'>\n  <name>a&amp;b</name>\n</domain>\n"))
        try Self.expectSame(GuestRoutes.VCPUList(vcpus: [.init(number: 0, state: "running", hostCPU: 3, cpuTimeNs: 12),
                                                         .init(number: 1, state: "offline", hostCPU: nil, cpuTimeNs: 0)]))
        try Self.expectSame(FirewallRoutes.FilterList(filters: [
            ManagedFilter(name: "virthost-u-52:54:00:00:00:01", domainUUID: "u", orphaned: false, removed: false)]))
        try Self.expectSame(FirewallRoutes.Protection(interfaces: [
            InterfaceProtection(mac: "52:54:00:00:00:01", target: "vnet0", filter: "virthost-u-m",
                                parameters: ["IP": ["10.0.0.2", "10.0.0.3"], "CTRL_IP_LEARNING": ["none"]], inForce: true),
            InterfaceProtection(mac: "52:54:00:00:00:02", target: nil, filter: nil, parameters: [:], inForce: false)]))
    }
}
