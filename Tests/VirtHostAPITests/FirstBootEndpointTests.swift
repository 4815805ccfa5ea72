import Foundation
import Testing
import TestSupport

/// `first_boot` through the API on the test driver: the render shows the disk and its files
/// and makes nothing; bad data is a 422 with pointers; a driver that cannot take a volume's
/// content refuses the create and leaves nothing.
@Suite(.paced) struct FirstBootEndpointTests {
    static let spec = #"""
        {"name":"seeded","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":256,"virt_type":"test",
         "interfaces":[{"type":"user","mac":"52:54:00:fb:00:09"}],
         "first_boot":{"user_data":"#!/bin/sh\necho hi\n","meta_data":{"role":"db"}}}
        """#

    @Test func theRenderShowsTheDiskAndItsFilesAndMakesNothing() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        defer { Task { await api.stop() } }
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests/render?include=first_boot",
                                             body: Array(Self.spec.utf8))
        #expect(response.status == 200, "\(response.text)")
        let body = try response.json()
        #expect((body["xml"] as? String)?.contains("<source pool='default' volume='seeded-first-boot.iso'/>") == true,
                "\(response.text)")
        let firstBoot = try #require(body["first_boot"] as? [String: Any])
        #expect(firstBoot["format"] as? String == "nocloud")
        #expect(firstBoot["label"] as? String == "cidata")
        #expect((firstBoot["volume"] as? [String: String]) == ["pool": "default", "volume": "seeded-first-boot.iso"])
        let files = try #require(firstBoot["files"] as? [[String: String]])
        #expect(files.map { $0["path"] } == ["meta-data", "user-data", "network-config"])
        #expect(files[1]["content"] == "#!/bin/sh\necho hi\n")
        let meta = try JSONSerialization.jsonObject(with: Data(try #require(files[0]["content"]).utf8)) as? [String: Any]
        #expect(meta?["instance-id"] as? String == "6695eb01-f6a4-8304-79aa-97f2502e193f")
        #expect(meta?["local-hostname"] as? String == "seeded")
        #expect((meta?["meta"] as? [String: String]) == ["role": "db"])
        #expect(files[2]["content"]?.contains("52:54:00:fb:00:09") == true)

        // The same render without include is the XML alone; XML and include do not go together.
        let plain = try await httpRequest(port: api.port, "POST", "/v1/guests/render", body: Array(Self.spec.utf8))
        #expect(try plain.json().keys.sorted() == ["xml"])
        let xml = try await httpRequest(port: api.port, "POST", "/v1/guests/render?include=first_boot&format=xml",
                                        body: Array(Self.spec.utf8))
        #expect(xml.status == 400)
        #expect(try xml.json()["parameter"] as? String == "include", "\(xml.text)")
        // A spec without first_boot: null.
        let none = try await httpRequest(port: api.port, "POST", "/v1/guests/render?include=first_boot", body: Array(
            #"{"name":"plain","memory_mb":64}"#.utf8))
        #expect(try none.json()["first_boot"] is NSNull, "\(none.text)")
        // Nothing made: not even the instances pool ("default", which the test driver lacks).
        #expect(try await httpRequest(port: api.port, "/v1/storage/pools/default").status == 404)
    }

    @Test func hostileDataIsA422WithEveryPointer() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        defer { Task { await api.stop() } }
        let body = #"""
            {"spec":{"name":"hostile","memory_mb":64,"virt_type":"test",
                     "first_boot":{"hostname":"a/../b;reboot","ssh_authorized_keys":["ssh-ed25519 AAAA$(id)"],
                                   "user_data":"#cloud-config\nusers: [\n","meta_data":{"../../etc/passwd":"x"},
                                   "network_config":{"version":2,"ethernets":{"eth0":{"addresses":["10.0.0.1/33"]}}}}}}
            """#
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(body.utf8))
        #expect(response.status == 422, "\(response.text)")
        let pointers = Set((try response.json()["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String })
        #expect(pointers == ["/spec/first_boot/hostname", "/spec/first_boot/ssh_authorized_keys/0",
                             "/spec/first_boot/user_data", "/spec/first_boot/meta_data/..~1..~1etc~1passwd",
                             "/spec/first_boot/network_config/ethernets/eth0/addresses/0"], "\(response.text)")
        #expect(try await httpRequest(port: api.port, "/v1/domains/hostile").status == 404)
    }

    /// The test driver cannot take a volume's content: the image is made, its upload fails, and
    /// nothing stays (no volume, no staging volume, no instances pool, no domain). On a private
    /// test driver the upload's dedicated connection opens a driver of its own, which lacks the
    /// staging volume (libvirt-error); on the shared test:///default it would be
    /// virStorageVolUpload's unsupported-by-driver. The real libvirtd tests upload for real.
    @Test func aDriverThatCannotTakeContentRefusesTheCreateAndLeavesNothing() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        defer { Task { await api.stop() } }
        let before = try await httpRequest(port: api.port, "/v1/storage/pools").text
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"seeded","memory_mb":64,"virt_type":"test","first_boot":{}},"start":false}
            """#.utf8))
        #expect(response.status == 500, "\(response.text)")
        #expect(try response.json()["type"] as? String == "https://virthost.dev/problems/libvirt-error")
        #expect(try await httpRequest(port: api.port, "/v1/domains/seeded").status == 404)
        // The instances pool the create made for the disk is gone again too.
        #expect(try await httpRequest(port: api.port, "/v1/storage/pools").text == before)
    }
}

extension FirstBootEndpointTests {
    /// A megabyte of user data is a field error at its pointer, not a 413 for the whole body,
    /// under virthostd's default body cap of 2 MiB.
    @Test func aMegabyteOfUserDataIsAFieldError() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI()) { $0.maxBodySize = 2 << 20 }
        defer { Task { await api.stop() } }
        let userData = String(repeating: "x", count: 1 << 20)
        let response = try await httpRequest(port: api.port, "POST", "/v1/guests", body: Array(#"""
            {"spec":{"name":"big","memory_mb":64,"virt_type":"test","first_boot":{"user_data":"\#(userData)"}}}
            """#.utf8))
        #expect(response.status == 422, "\(response.text.prefix(300))")
        let errors = try response.json()["errors"] as? [[String: Any]] ?? []
        #expect(errors.compactMap { $0["pointer"] as? String } == ["/spec/first_boot/user_data"])
    }
}
