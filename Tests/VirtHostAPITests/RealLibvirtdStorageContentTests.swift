import Foundation
import Testing
import TestSupport

/// Volume content streamed in and out on the real libvirtd, in a dir pool in a temporary
/// directory; `curl` is the client, `qemu-img`/`qemu-io` make and check the images, `cmp`
/// compares bytes.
extension RealLibvirtdTests {
    /// A transient dir pool in a new temporary directory, removed with its files after `body`.
    func withContentPool(_ body: (_ pool: String, _ root: String, _ api: APITestServer) async throws -> Void)
        async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let root = NSTemporaryDirectory() + "virthost-content-\(suffix)"
        let pool = "virthost-test-content-\(suffix)"
        try FileManager.default.createDirectory(atPath: root + "/pool", withIntermediateDirectories: true)
        defer {
            _ = try? run("virsh", ["-c", uri, "pool-destroy", pool])
            try? FileManager.default.removeItem(atPath: root)
        }
        _ = try run("virsh", ["-c", uri, "pool-create-as", pool, "dir", "--target", root + "/pool"])
        let api = try APITestServer(uri: uri, allowedDiskRoots: [root])
        defer { Task { await api.stop() } }
        try await body(pool, root, api)
    }

    /// `curl` with the status code and response headers: (status, headers lowercased, body file).
    /// On a thread of its own, like every wait for a process here: waits on the cooperative
    /// pool hold one of its two threads from every other test in the process.
    func curl(_ arguments: [String], port: UInt16, _ path: String, output: String) async throws
        -> (status: Int, headers: [String: String]) {
        try await onOwnThread { try curlRequest(arguments, port: port, path, output: output) }
    }

    func same(_ first: String, _ second: String) async -> Bool {
        (try? await onOwnThread { try run("cmp", [first, second]) }) != nil
    }
}

/// `curl`, waited for on the calling thread: call it from a thread of its own (``onOwnThread``),
/// never from the cooperative pool, whose few threads every test in the process shares.
func curlRequest(_ arguments: [String], port: UInt16, _ path: String, output: String) throws
    -> (status: Int, headers: [String: String]) {
    let headerFile = output + ".headers"
    defer { try? FileManager.default.removeItem(atPath: headerFile) }
    let code = try run("curl", ["-sS", "-o", output, "-D", headerFile, "-w", "%{http_code}"] + arguments
                            + ["http://127.0.0.1:\(port)\(path)"])
    var headers: [String: String] = [:]
    for line in (try String(contentsOfFile: headerFile, encoding: .utf8)).split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return (Int(code.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, headers)
}

extension RealLibvirtdTests {
    func json(_ file: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any] ?? [:]
    }

    /// A 32 MiB raw image that is mostly holes, with data at three places (one not block-aligned).
    func sparseRawImage(_ path: String) throws {
        _ = try run("truncate", ["-s", "32M", path])
        for (offset, pattern) in [(0, "a"), (5_000_001, "b"), (20 << 20, "c")] {
            _ = try run("sh", ["-c", "yes \(pattern) | head -c 300000 | dd of=\(path) oflag=seek_bytes seek=\(offset) conv=notrunc status=none"])
        }
    }

    @Test func sparseRawAndQcow2ImagesGoInAndComeBackByteForByte() async throws {
        try await withContentPool { pool, root, api in
            let content = "/v1/storage/pools/\(pool)/volumes"
            let raw = root + "/disk.raw"
            try sparseRawImage(raw)
            let response = root + "/response"

            // Content-Length: sized to the body, and sparse.
            var put = try await curl(["-T", raw], port: api.port, "\(content)/disk.raw/content?format=raw", output: response)
            #expect(put.status == 201, "\(String(describing: try? String(contentsOfFile: response, encoding: .utf8)))")
            #expect(put.headers["location"] == "\(content)/disk.raw")
            var volume = try json(response)
            #expect(volume["capacity_bytes"] as? Int == 32 << 20)
            #expect(volume["format"] as? String == "raw")
            let allocation = try #require(volume["allocation_bytes"] as? Int)
            #expect(allocation < 8 << 20, "a 32 MiB image with 900 KB of data allocated \(allocation) bytes")

            let back = root + "/back.raw"
            var get = try await curl([], port: api.port, "\(content)/disk.raw/content", output: back)
            #expect(get.status == 200)
            #expect(get.headers["content-length"] == String(32 << 20))
            #expect(get.headers["accept-ranges"] == "bytes")
            #expect(await same(raw, back), "the downloaded raw image differs from the uploaded one")
            // HEAD announces the same length, and sends no body.
            let head = try await curl(["-I"], port: api.port, "\(content)/disk.raw/content", output: back + ".head")
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == String(32 << 20), "\(head.headers)")

            // Chunked: sized to what arrived.
            put = try await curl(["-T", raw, "-H", "Transfer-Encoding: chunked"], port: api.port,
                           "\(content)/chunked.raw/content", output: response)
            #expect(put.status == 201)
            volume = try json(response)
            #expect(volume["capacity_bytes"] as? Int == 32 << 20, "\(volume)")
            #expect(await same(raw, root + "/pool/chunked.raw"))

            // A qcow2 image made by qemu-img, with data written by qemu-io.
            let qcow2 = root + "/image.qcow2"
            _ = try run("qemu-img", ["create", "-q", "-f", "qcow2", qcow2, "48M"])
            _ = try run("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 1M 3M", "-c", "write -P 0x5c 40M 64k", qcow2])
            put = try await curl(["-T", qcow2], port: api.port, "\(content)/image.qcow2/content?format=qcow2", output: response)
            #expect(put.status == 201)
            volume = try json(response)
            #expect(volume["format"] as? String == "qcow2", "\(volume)")
            #expect(volume["capacity_bytes"] as? Int == 48 << 20, "libvirt reports the virtual size")
            _ = try run("qemu-img", ["compare", "-f", "qcow2", "-F", "qcow2", qcow2, root + "/pool/image.qcow2"])
            get = try await curl([], port: api.port, "\(content)/image.qcow2/content", output: back)
            #expect(get.status == 200)
            #expect(await same(qcow2, back), "the downloaded qcow2 image differs from the uploaded one")
            let check = try run("qemu-io", ["-f", "qcow2", "-c", "read -P 0xab 1M 3M", back])
            #expect(!check.contains("Pattern verification failed"), "\(check)")

            // Ranges: a middle, an open end, a suffix; 416 beyond the end.
            let whole = try Data(contentsOf: URL(fileURLWithPath: raw))
            for (range, first, last) in [("4999000-5001999", 4_999_000, 5_001_999), ("33554000-", 33_554_000, 33_554_431),
                                         ("-1000", 33_553_432, 33_554_431)] {
                get = try await curl(["-H", "Range: bytes=\(range)"], port: api.port, "\(content)/disk.raw/content", output: back)
                #expect(get.status == 206, "\(range)")
                #expect(get.headers["content-range"] == "bytes \(first)-\(last)/33554432", "\(range)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: back)) == whole[first...last], "\(range)")
            }
            get = try await curl(["-H", "Range: bytes=33554432-"], port: api.port, "\(content)/disk.raw/content", output: back)
            #expect(get.status == 416)
            #expect(get.headers["content-range"] == "bytes */33554432")
            #expect(try json(back)["type"] as? String == "https://virthost.dev/problems/range-not-satisfiable")
            get = try await curl([], port: api.port, "\(content)/missing/content", output: back)
            #expect(get.status == 404)

            // Overwrite rules: refused without overwrite=true (content unchanged), refused for
            // content of another format than declared (nothing made), refused while a domain uses it.
            put = try await curl(["-T", qcow2], port: api.port, "\(content)/disk.raw/content", output: response)
            #expect(put.status == 409)
            #expect(try json(response)["type"] as? String == "https://virthost.dev/problems/storage-volume-exists")
            #expect(await same(raw, root + "/pool/disk.raw"))
            put = try await curl(["-T", qcow2], port: api.port, "\(content)/wrong.raw/content?format=raw", output: response)
            #expect(put.status == 422)
            #expect(try json(response)["type"] as? String == "https://virthost.dev/problems/upload-format-mismatch")
            put = try await curl(["-T", qcow2], port: api.port, "\(content)/disk.raw/content?format=qcow2&overwrite=true",
                           output: response)
            #expect(put.status == 201)
            #expect(try json(response)["format"] as? String == "qcow2")
            #expect(await same(qcow2, root + "/pool/disk.raw"))

            let guest = Self.guestName()
            defer { removeGuest(guest) }
            let xml = """
                <domain type='\(RealLibvirtd.virtType)'><name>\(guest)</name><memory unit='MiB'>64</memory>
                <os><type>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
                <source file='\(root)/pool/image.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>
                """
            try xml.write(toFile: root + "/guest.xml", atomically: true, encoding: .utf8)
            _ = try run("virsh", ["-c", uri, "define", root + "/guest.xml"])
            put = try await curl(["-T", raw], port: api.port, "\(content)/image.qcow2/content?overwrite=true", output: response)
            #expect(put.status == 409)
            #expect(try json(response)["domains"] as? [String] == [guest])
            #expect(await same(qcow2, root + "/pool/image.qcow2"))

            let names = try run("ls", ["-A", root + "/pool"]).split(separator: "\n").map(String.init).sorted()
            #expect(names == ["chunked.raw", "disk.raw", "image.qcow2"], "no staging or refused volume stays")
        }
    }

    @Test func anUploadCutOffMidBodyLeavesNoVolume() async throws {
        try await withContentPool { pool, root, api in
            let port = api.port
            try await onOwnThread {
                let connection = try HTTPTestConnection(port: port)
                try connection.send("PUT /v1/storage/pools/\(pool)/volumes/cut.raw/content HTTP/1.1\r\n"
                                    + "Host: \(connection.authority)\r\nContent-Length: \(64 << 20)\r\n\r\n")
                try connection.send([UInt8](repeating: 0x41, count: 4 << 20))
            }
            // The connection is closed (the object is gone); the service notices and removes the volume.
            // A guard against a hang, scaled under a sanitizer like the others (TestTiming).
            var names: [String] = ["?"]
            let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(10))
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                let listed = try await httpRequest(port: port, "/v1/storage/pools/\(pool)/volumes")
                names = (try listed.json()["volumes"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                if names.isEmpty { break }
            }
            #expect(names.isEmpty, "volumes left: \(names)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/pool").isEmpty)
        }
    }

    /// The bytes move on a dedicated connection: the Host's thread keeps answering meanwhile.
    @Test func theHostKeepsAnsweringWhileALargeUploadRuns() async throws {
        let mebibytes = Int(ProcessInfo.processInfo.environment["VIRTHOST_TEST_TRANSFER_MIB"] ?? "") ?? 1024
        try await withContentPool { pool, root, api in
            let image = root + "/large.raw"
            // Data, not holes: every byte goes through the stream.
            // Both on threads of their own: held on the cooperative pool for the whole upload,
            // they starved every other test in the process of it.
            _ = try await onOwnThread { try run("sh", ["-c", "yes virthost-transfer | head -c \(mebibytes << 20) > \(image)"]) }
            let port = api.port
            let upload = Task {
                try await onOwnThread {
                    try curlRequest(["-T", image], port: port, "/v1/storage/pools/\(pool)/volumes/large.raw/content",
                                    output: root + "/response")
                }
            }
            var latencies: [Double] = []
            // Until the upload is well under way, then as long as it runs (curl writes the
            // response file when the answer comes); bounded, should curl fail to connect at all.
            let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(600))
            while latencies.count < 20
                || (!FileManager.default.fileExists(atPath: root + "/response") && ContinuousClock.now < deadline) {
                let started = ContinuousClock.now
                let host = try await httpRequest(port: port, "/v1/host", timeout: 30)
                let elapsed = ContinuousClock.now - started
                #expect(host.status == 200)
                latencies.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                try await Task.sleep(for: .milliseconds(50))
            }
            let result = try await upload.value
            #expect(result.status == 201)
            let sorted = latencies.sorted()
            let median = sorted[sorted.count / 2], worst = sorted.last ?? 0
            print("GET /v1/host during a \(mebibytes) MiB upload: \(sorted.count) requests, median \(median) ms, max \(worst) ms")
            // Generous: a loaded two-core machine; a held Host thread would take the whole upload.
            #expect(worst < 2000 * TestTiming.slowdown, "max \(worst) ms")
            #expect(await same(image, root + "/pool/large.raw"))

            // A reader that stalls: the service's memory stays bounded (a queue of a few MiB)
            // while libvirt could have sent the whole volume meanwhile.
            let before = Self.residentMiB()
            let (status, length, grown) = try await onOwnThread { () -> (Int, String?, Double) in
                let connection = try HTTPTestConnection(port: port, timeout: 30)
                try connection.sendRequest("GET", "/v1/storage/pools/\(pool)/volumes/large.raw/content")
                let head = try connection.readHead()
                var chunk = [UInt8](repeating: 0, count: 64 * 1024)
                var read = 0
                while read < 1 << 20 {
                    let count = recv(connection.descriptor, &chunk, chunk.count, 0)
                    guard count > 0 else { break }
                    read += count
                }
                Thread.sleep(forTimeInterval: 2)
                return (head.status, head.headers["content-length"], Self.residentMiB() - before)
            }
            #expect(status == 200)
            #expect(length == String(mebibytes << 20))
            print("\(Self.allocatedBytes == nil ? "resident" : "allocated") memory grew \(grown) MiB while a \(mebibytes) MiB download stalled for 2 s")
            #expect(grown < 64, "the service buffered \(grown) MiB for a stalled reader")
        }
    }

    /// What the memory in use is measured as: the resident set, or under a sanitizer the bytes its
    /// allocator has handed out and not taken back. AddressSanitizer keeps freed blocks resident in
    /// its quarantine (256 MiB by default) to catch uses after free, so there the resident set
    /// counts every piece the transfers of this process ever freed, not what the service holds.
    static let allocatedBytes: (@convention(c) () -> Int)? = dlsym(UnsafeMutableRawPointer(bitPattern: 0),
                                                                   "__sanitizer_get_current_allocated_bytes")
        .map { unsafeBitCast($0, to: (@convention(c) () -> Int).self) }

    /// The process's memory in use, in MiB (see ``allocatedBytes``).
    static func residentMiB() -> Double {
        if let allocatedBytes { return Double(allocatedBytes()) / 1_048_576 }
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
    }
}
