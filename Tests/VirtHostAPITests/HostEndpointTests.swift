import Foundation
import Libvirt
import Testing
import TestSupport

/// `/healthz`, `/readyz` and `/v1/host` on libvirt's test driver.
@Suite(.paced) struct HostEndpointTests {
    @Test func healthzAnswersOK() async throws {
        let api = try APITestServer()
        let response = try await httpRequest(port: api.port, "/healthz")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.text == #"{"status":"ok"}"#)
        await api.stop()
    }

    @Test func readyzAnswersWhenLibvirtDoes() async throws {
        let api = try APITestServer()
        let response = try await httpRequest(port: api.port, "/readyz")
        #expect(response.status == 200)
        #expect(try response.json()["status"] as? String == "ready")
        await api.stop()
    }

    /// Every value is compared with what libvirt itself reports for the connection.
    @Test func hostReportsWhatLibvirtReports() async throws {
        let api = try APITestServer()
        let response = try await httpRequest(port: api.port, "/v1/host")
        #expect(response.status == 200)
        let host = try response.json()
        let connection = try Connection(uri: "test:///default")
        #expect(host["hostname"] as? String == (try connection.hostname()))
        #expect(host["uri"] as? String == "test:///default")
        let hypervisor = try #require(host["hypervisor"] as? [String: Any])
        #expect(hypervisor["type"] as? String == "TEST")
        #expect(hypervisor["version"] as? String == "0.0.2")
        #expect(hypervisor["version_code"] as? Int == 2)
        let libvirt = try #require(host["libvirt"] as? [String: Any])
        let library = try connection.libraryVersion()
        #expect(libvirt["version"] as? String == library.description)
        #expect(libvirt["version_code"] as? Int == library.code)
        let cpu = try #require(host["cpu"] as? [String: Any])
        #expect(cpu["arch"] as? String == "i686")
        #expect(cpu["model"] is NSNull)
        #expect(Set(host.keys) == ["hostname", "uri", "hypervisor", "libvirt", "cpu"])
        await api.stop()
    }

    @Test func anUnreachableHypervisorIs503WithRetryAfter() async throws {
        let api = try APITestServer(uri: "qemu+unix:///system?socket=/nonexistent/libvirt-sock",
                                    initialRetryDelay: TestTiming.scaled(.seconds(30)))
        for path in ["/readyz", "/v1/host"] {
            let started = ContinuousClock.now
            let response = try await httpRequest(port: api.port, path)
            // Failing fast means not waiting for libvirt or the back-off (30 s): well under it,
            // with room for a loaded machine (when every suite starts at once, a request can
            // wait 5 s for a thread on two cores).
            #expect(ContinuousClock.now - started < TestTiming.scaled(.seconds(15)), "\(path) did not fail fast")
            #expect(response.status == 503)
            #expect(response.headers["content-type"] == "application/problem+json")
            let retryAfter = try #require(response.headers["retry-after"].flatMap(Int.init))
            #expect((1...Int(30 * TestTiming.slowdown)).contains(retryAfter), "the back-off is \(30 * TestTiming.slowdown) s")
            let problem = try response.json()
            #expect(problem["type"] as? String == "https://virthost.dev/problems/hypervisor-unavailable")
            #expect(problem["retry_after_s"] as? Int == retryAfter)
            #expect((problem["detail"] as? String)?.contains("nonexistent") == true)
        }
        // /healthz does not depend on libvirt.
        #expect(try await httpRequest(port: api.port, "/healthz").status == 200)
        await api.stop()
    }

    @Test func servesItsOpenAPIDocument() async throws {
        let api = try APITestServer()
        let response = try await httpRequest(port: api.port, "/openapi.yaml")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/yaml")
        let onDisk = try Data(contentsOf: OpenAPIDocument.url)
        #expect(Data(response.body) == onDisk)
        await api.stop()
    }
}
