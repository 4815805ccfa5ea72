import Foundation
import Libvirt
import Testing
import TestSupport

/// Against a real libvirtd with QEMU. The test command (`scripts/test.sh`) starts one and sets
/// `VIRTHOST_TEST_QEMU_URI`; it also fails the run if any test was skipped, so these count
/// only when they ran.
enum RealLibvirtd {
    static let uri = ProcessInfo.processInfo.environment["VIRTHOST_TEST_QEMU_URI"]
}

@Suite(.paced, .enabled(if: RealLibvirtd.uri != nil, "VIRTHOST_TEST_QEMU_URI names a real libvirtd"), .serialized) struct RealLibvirtdTests {
    let uri = RealLibvirtd.uri ?? "qemu:///system"

    /// `virsh version` prints "Using library: libvirt 9.0.0" and "Running hypervisor: QEMU 7.2.22".
    func virshVersions() throws -> (library: String, hypervisorType: String, hypervisor: String) {
        let output = try run("virsh", ["-c", uri, "version"])
        func words(after prefix: String) -> [Substring] {
            output.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { $0.dropFirst(prefix.count).split(separator: " ") } ?? []
        }
        let library = words(after: "Using library: ")
        let hypervisor = words(after: "Running hypervisor: ")
        return (String(library.last ?? ""), String(hypervisor.first ?? ""), String(hypervisor.last ?? ""))
    }

    @Test func hostReportsQEMUAndTheVersionsVirshPrints() async throws {
        let api = try APITestServer(uri: uri)
        let response = try await httpRequest(port: api.port, "/v1/host")
        #expect(response.status == 200, "\(response.text)")
        let host = try response.json()
        let virsh = try virshVersions()
        let hypervisor = try #require(host["hypervisor"] as? [String: Any])
        #expect(hypervisor["type"] as? String == "QEMU")
        #expect(virsh.hypervisorType == "QEMU")
        #expect(hypervisor["version"] as? String == virsh.hypervisor)
        let libvirt = try #require(host["libvirt"] as? [String: Any])
        #expect(libvirt["version"] as? String == virsh.library)
        #expect(host["uri"] as? String == uri)
        let cpu = try #require(host["cpu"] as? [String: Any])
        #expect((cpu["arch"] as? String)?.isEmpty == false)
        #expect(try await httpRequest(port: api.port, "/readyz").status == 200)
        await api.stop()
    }

    /// libvirtd drops the service's connection (virt-admin client-disconnect, a real close,
    /// not a simulated one): the close callback fires, the Host drops the connection, and the
    /// next call opens a new one.
    @Test func reconnectsAfterLibvirtdClosesTheConnection() async throws {
        let service = try await onOwnThread { try ServiceProcess(arguments: ["--uri", uri, "--listen", "127.0.0.1:0"]) }
        #expect(try await httpRequest(port: service.port, "/readyz").status == 200)

        let clients = try clientIDs(ofProcess: service.pid)
        try #require(!clients.isEmpty, "libvirtd lists no client of pid \(service.pid)")
        for client in clients { _ = try run("virt-admin", ["client-disconnect", "libvirtd", client]) }

        #expect(try await onOwnThread { service.waitForLog("libvirt connection lost") })
        let ready = try await httpRequest(port: service.port, "/readyz")
        #expect(ready.status == 200, "\(ready.text)")
        #expect(try await httpRequest(port: service.port, "/v1/host").status == 200)
        let opened = service.log.filter { $0.contains("libvirt connection opened") }.count
        #expect(opened == 2)
        // A new client of libvirtd, not the closed one.
        let reconnected = try clientIDs(ofProcess: service.pid)
        #expect(!reconnected.isEmpty && Set(reconnected).isDisjoint(with: clients))
        #expect(try await onOwnThread { service.stop() } == 0)
    }

    /// libvirtd's clients whose peer process is `pid`.
    func clientIDs(ofProcess pid: Int32) throws -> [String] {
        let list = try run("virt-admin", ["srv-clients-list", "libvirtd"])
        let ids = list.split(separator: "\n").compactMap { line -> String? in
            let first = line.split(separator: " ").first.map(String.init) ?? ""
            return Int(first) != nil ? first : nil
        }
        return try ids.filter { id in
            let info = try run("virt-admin", ["client-info", "libvirtd", id])
            return info.split(separator: "\n").contains { line in
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                return parts.count == 2 && parts[0] == "unix_process_id" && parts[1] == String(pid)
            }
        }
    }
}
