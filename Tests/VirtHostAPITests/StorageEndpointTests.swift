import Foundation
import Testing
import TestSupport

/// Storage pools and volumes on libvirt's test driver (pool `default-pool`, in-process).
@Suite(.paced) struct StorageEndpointTests {
    static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func listsAndShowsTheTestDriversPool() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        let list = try await httpRequest(port: api.port, "/v1/storage/pools")
        #expect(list.status == 200, "\(list.text)")
        let pools = try #require(try list.json()["pools"] as? [[String: Any]])
        let pool = try #require(pools.first { $0["name"] as? String == "default-pool" })
        #expect(pool["type"] as? String == "dir")
        #expect(pool["state"] as? String == "running")
        #expect(pool["persistent"] as? Bool == true)
        #expect(pool["path"] as? String == "/default-pool")
        for key in ["uuid", "autostart", "capacity_bytes", "allocation_bytes", "available_bytes"] {
            #expect(pool[key] != nil, "missing \(key)")
        }
        let one = try await httpRequest(port: api.port, "/v1/storage/pools/default-pool")
        #expect(one.status == 200)
        #expect(try one.json()["uuid"] as? String == pool["uuid"] as? String)

        let missing = try await httpRequest(port: api.port, "/v1/storage/pools/nonesuch")
        #expect(missing.status == 404)
        #expect(try missing.json()["type"] as? String == "https://virthost.dev/problems/storage-pool-not-found")
        // `..` (sent percent-encoded, so no client folds it away) could name another object.
        let bad = try await httpRequest(port: api.port, "/v1/storage/pools/default-pool/volumes/%2E%2E")
        #expect(bad.status == 400, "\(bad.text)")
        #expect(try bad.json()["parameter"] as? String == "volume")
    }

    @Test func aVolumeIsCreatedShownAndDeleted() async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        let base = "/v1/storage/pools/default-pool/volumes"
        let created = try await httpRequest(port: api.port, "POST", base,
                                            body: Self.json(#"{"name":"disk-a.img","capacity_bytes":1048576,"format":"raw"}"#))
        #expect(created.status == 201, "\(created.text)")
        #expect(created.headers["location"] == "\(base)/disk-a.img")
        let volume = try created.json()
        #expect(volume["name"] as? String == "disk-a.img")
        #expect(volume["capacity_bytes"] as? Int == 1_048_576)
        #expect(volume["path"] as? String == "/default-pool/disk-a.img")
        #expect(volume["used_by"] as? [String] == [])
        #expect(volume["backing"] is NSNull)

        let again = try await httpRequest(port: api.port, "POST", base,
                                          body: Self.json(#"{"name":"disk-a.img","capacity_bytes":1048576,"format":"raw"}"#))
        #expect(again.status == 409)
        #expect(try again.json()["type"] as? String == "https://virthost.dev/problems/storage-volume-exists")

        let listed = try await httpRequest(port: api.port, base)
        let names = (try listed.json()["volumes"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(names.contains("disk-a.img"))

        // A pool that holds volumes is not deleted.
        let refused = try await httpRequest(port: api.port, "DELETE", "/v1/storage/pools/default-pool")
        #expect(refused.status == 409)
        #expect((try refused.json()["volumes"] as? [String])?.contains("disk-a.img") == true)

        // A malformed Idempotency-Key is refused even where no key is kept (a delete without wipe).
        let badKey = try await httpRequest(port: api.port, "DELETE", "\(base)/disk-a.img",
                                           headers: [("Idempotency-Key", "two words")])
        #expect(badKey.status == 400, "\(badKey.text)")
        #expect(try badKey.json()["parameter"] as? String == "Idempotency-Key")

        let deleted = try await httpRequest(port: api.port, "DELETE", "\(base)/disk-a.img")
        #expect(deleted.status == 204, "\(deleted.text)")
        let gone = try await httpRequest(port: api.port, "\(base)/disk-a.img")
        #expect(gone.status == 404)
        #expect(try gone.json()["type"] as? String == "https://virthost.dev/problems/storage-volume-not-found")
    }

    @Test(arguments: [
        (#"{"name":"../x","capacity_bytes":1}"#, "/name"),
        (#"{"name":"a/b","capacity_bytes":1}"#, "/name"),
        (#"{"name":"a\u0000b","capacity_bytes":1}"#, "/name"),
        ("{\"name\":\"\(String(repeating: "n", count: 256))\",\"capacity_bytes\":1}", "/name"),
        (#"{"name":"x"}"#, "/capacity_bytes"),
        (#"{"name":"x","capacity_bytes":0}"#, "/capacity_bytes"),
        (#"{"name":"x","capacity_bytes":1,"format":"vmdk"}"#, "/format"),
        (#"{"name":"x","format":"raw","backing":{"pool":"default-pool","volume":"y"}}"#, "/backing"),
        (#"{"name":"x","backing":{"pool":"default-pool"}}"#, "/backing/volume"),
        // What the backing names must exist: the body's error, not a missing resource.
        (#"{"name":"x","backing":{"pool":"no-such-pool","volume":"y"}}"#, "/backing/pool"),
        (#"{"name":"x","backing":{"pool":"default-pool","volume":"no-such-volume"}}"#, "/backing/volume"),
        (#"{"name":"x","capacity_bytes":1,"colour":"red"}"#, "/colour"),
        (#"{"name":"x","capacity_bytes":null}"#, "/capacity_bytes"),
    ])
    func aBadVolumeRequestIsAFieldError(body: String, pointer: String) async throws {
        let api = try APITestServer()
        defer { Task { await api.stop() } }
        // Each case names its own volume: the cases run side by side on the process's one
        // test:///default, where another test may make a volume of a plain name meanwhile.
        let name = "bad-\(UInt32.random(in: 0 ... .max))"
        let body = body.replacingOccurrences(of: "\"name\":\"x\"", with: "\"name\":\"\(name)\"")
        let response = try await httpRequest(port: api.port, "POST", "/v1/storage/pools/default-pool/volumes",
                                             body: Self.json(body))
        #expect(response.status == 422, "\(response.text)")
        let document = try response.json()
        #expect(document["type"] as? String == "https://virthost.dev/problems/invalid-storage-request")
        let pointers = (document["errors"] as? [[String: Any]])?.compactMap { $0["pointer"] as? String } ?? []
        #expect(pointers.contains(pointer), "\(pointers)")
        let volumes = try await httpRequest(port: api.port, "/v1/storage/pools/default-pool/volumes")
        #expect(volumes.status == 200, "\(volumes.text)")
        #expect((try volumes.json()["volumes"] as? [[String: Any]])?.contains { $0["name"] as? String == name } == false)
    }

    @Test func aPoolIsMadeOnlyInsideAnAllowedRoot() async throws {
        let fixture = try DiskPathFixture()
        defer { fixture.remove() }
        let api = try APITestServer(allowedDiskRoots: [fixture.root])
        defer { Task { await api.stop() } }
        for (path, fragment) in [("/etc/pools", "allowed disk root"), (fixture.root + "/escape/p", "outside"),
                                 (fixture.root + "/../outside", "..")] {
            let refused = try await httpRequest(port: api.port, "POST", "/v1/storage/pools",
                                                body: Self.json(#"{"name":"p1","type":"dir","path":"\#(path)"}"#))
            #expect(refused.status == 422, "\(refused.text)")
            #expect(refused.text.contains("/path") && refused.text.contains(fragment), "\(refused.text)")
        }
        let wrongType = try await httpRequest(port: api.port, "POST", "/v1/storage/pools",
                                              body: Self.json(#"{"name":"p1","type":"logical","path":"\#(fixture.root)/p"}"#))
        #expect(wrongType.status == 422)
        #expect(wrongType.text.contains("/type"))

        let created = try await httpRequest(port: api.port, "POST", "/v1/storage/pools",
                                            body: Self.json(#"{"name":"p1","type":"dir","path":"\#(fixture.root)/p1"}"#))
        #expect(created.status == 201, "\(created.text)")
        #expect(created.headers["location"] == "/v1/storage/pools/p1")
        let pool = try created.json()
        #expect(pool["state"] as? String == "running")
        #expect(pool["autostart"] as? Bool == true)
        #expect(pool["path"] as? String == fixture.root + "/p1")
        let twice = try await httpRequest(port: api.port, "POST", "/v1/storage/pools",
                                          body: Self.json(#"{"name":"p1","type":"dir","path":"\#(fixture.root)/p2"}"#))
        #expect(twice.status == 409)
        #expect(try twice.json()["type"] as? String == "https://virthost.dev/problems/storage-pool-exists")
        let samePath = try await httpRequest(port: api.port, "POST", "/v1/storage/pools",
                                             body: Self.json(#"{"name":"p3","type":"dir","path":"\#(fixture.root)/p1"}"#))
        #expect(samePath.status == 409, "\(samePath.text)")
        #expect(try samePath.json()["type"] as? String == "https://virthost.dev/problems/storage-pool-path-in-use")
        #expect(try samePath.json()["pool"] as? String == "p1")
        let refreshed = try await httpRequest(port: api.port, "POST", "/v1/storage/pools/p1/refresh")
        #expect(refreshed.status == 200, "\(refreshed.text)")
        let deleted = try await httpRequest(port: api.port, "DELETE", "/v1/storage/pools/p1")
        #expect(deleted.status == 204, "\(deleted.text)")
        #expect(try await httpRequest(port: api.port, "/v1/storage/pools/p1").status == 404)
    }
}
