import Foundation
import Testing
import TestSupport

/// `/v1/host/metrics`, `/v1/host/capabilities`, `/v1/host/domain-capabilities` and
/// `/v1/host/version-check` through a real socket, on libvirt's test driver.
@Suite(.paced) struct HostMetricsEndpointTests {
    @Test func metricsDocumentHasEveryField() async throws {
        let api = try APITestServer()
        let response = try await httpRequest(port: api.port, "/v1/host/metrics")
        #expect(response.status == 200, "\(response.text)")
        let metrics = try response.json()
        let vcpus = try #require(metrics["vcpus"] as? [String: Any])
        #expect(vcpus["used"] as? Int == 2)
        #expect(vcpus["source"] as? String == "cpu_map")
        let memory = try #require(metrics["memory_mb"] as? [String: Any])
        #expect(memory["total"] as? Int == 3072 && memory["used"] as? Int == 2048)
        #expect(memory["source"] as? String == "domains")
        let hypervisor = try #require(metrics["hypervisor"] as? [String: Any])
        #expect(hypervisor["type"] as? String == "TEST" && hypervisor["version_code"] as? Int == 2)
        let cpu = try #require(metrics["cpu_info"] as? [String: Any])
        #expect(cpu["arch"] as? String == "i686")
        #expect(cpu["model"] is NSNull)
        #expect(cpu["features"] as? [String] == ["nonpae", "pae"])
        let topology = try #require(cpu["topology"] as? [String: Int])
        #expect(topology == ["cells": 2, "sockets": 2, "cores": 2, "threads": 2])
        let disk = try #require(metrics["disk_gb"] as? [String: Any])
        #expect(disk["error"] is NSNull)
        #expect((disk["total"] as? Int ?? 0) >= (disk["free"] as? Int ?? .max))
        #expect(disk["available_least"] as? Int == disk["free"] as? Int)
        let sampled = try #require(metrics["sampled_at"] as? String)
        #expect(ISO8601DateFormatter().date(from: sampled) != nil)
        await api.stop()
    }

    @Test func maxAgeIsAWholeNumberOfMilliseconds() async throws {
        let api = try APITestServer()
        #expect(try await httpRequest(port: api.port, "/v1/host/metrics?max_age_ms=0").status == 200)
        let bad = try await httpRequest(port: api.port, "/v1/host/metrics?max_age_ms=soon")
        #expect(bad.status == 400)
        #expect(try bad.json()["parameter"] as? String == "max_age_ms")
        await api.stop()
    }

    @Test func aMissingInstancesPathIsReportedInTheDiskField() async throws {
        let api = try APITestServer(instancesPath: "/nonexistent/images")
        let response = try await httpRequest(port: api.port, "/v1/host/metrics")
        #expect(response.status == 200)
        let disk = try #require(try response.json()["disk_gb"] as? [String: Any])
        #expect(disk["error"] as? String == "instances path /nonexistent/images does not exist")
        #expect(disk["total"] is NSNull && disk["available_least"] is NSNull)
        await api.stop()
    }

    @Test func capabilitiesAsJSONOrAsLibvirtsXML() async throws {
        let api = try APITestServer()
        let json = try await httpRequest(port: api.port, "/v1/host/capabilities")
        #expect(json.status == 200)
        let capabilities = try json.json()
        let cells = try #require(capabilities["cells"] as? [[String: Any]])
        #expect(cells.count == 2)
        #expect((cells.first?["cpus"] as? [Int])?.count == 8)
        #expect(cells.first?["memory_kib"] as? Int == 2_097_152)
        let guests = try #require(capabilities["guests"] as? [[String: Any]])
        #expect(guests.first?["domain_types"] as? [String] == ["test"])

        let xml = try await httpRequest(port: api.port, "/v1/host/capabilities?format=xml")
        #expect(xml.status == 200)
        #expect(xml.headers["content-type"] == "application/xml")
        #expect(xml.text.hasPrefix("<capabilities>"))

        let bad = try await httpRequest(port: api.port, "/v1/host/capabilities?format=yaml")
        #expect(bad.status == 400)
        #expect(try bad.json()["parameter"] as? String == "format")
        await api.stop()
    }

    @Test func domainCapabilitiesAreUnsupportedByTheTestDriver() async throws {
        let api = try APITestServer()
        let response = try await httpRequest(port: api.port, "/v1/host/domain-capabilities")
        #expect(response.status == 501)
        #expect(response.headers["content-type"] == "application/problem+json")
        #expect(try response.json()["type"] as? String == "https://virthost.dev/problems/unsupported-by-driver")
        await api.stop()
    }

    @Test func versionCheckUsesNovasSemantics() async throws {
        let api = try APITestServer()
        func check(_ query: String) async throws -> [String: Any] {
            let response = try await httpRequest(port: api.port, "/v1/host/version-check?\(query)")
            #expect(response.status == 200, "\(query): \(response.text)")
            return try response.json()
        }
        #expect(try await check("libvirt=1.2.3&type=TEST")["satisfied"] as? Bool == true)
        #expect(try await check("libvirt=999.0.0")["satisfied"] as? Bool == false)
        #expect(try await check("type=QEMU")["satisfied"] as? Bool == false)
        #expect(try await check("hypervisor=0.0.2&exact=true")["satisfied"] as? Bool == true)
        #expect(try await check("hypervisor=0.0.3&exact=true")["satisfied"] as? Bool == false)
        #expect(try await check("hypervisor=0.0.3&exact=YES")["exact"] as? Bool == true)
        let document = try await check("hypervisor=0.0.1")
        let hypervisor = try #require(document["hypervisor"] as? [String: Any])
        #expect(hypervisor["required"] as? String == "0.0.1" && hypervisor["actual"] as? String == "0.0.2")
        #expect(document["exact"] as? Bool == false)

        for (query, parameter) in [("libvirt=9.x", "libvirt"), ("hypervisor=1.2.3.4", "hypervisor"),
                                   ("exact=maybe", "exact"), ("exact=", "exact"), ("exact", "exact")] {
            let response = try await httpRequest(port: api.port, "/v1/host/version-check?\(query)")
            #expect(response.status == 400, "\(query)")
            #expect(try response.json()["parameter"] as? String == parameter)
        }
        await api.stop()
    }
}
