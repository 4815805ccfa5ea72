import Foundation

/// A throwaway CA, a server certificate for 127.0.0.1 and localhost, a client certificate the
/// CA signed and a self-signed "rogue" one, made with `openssl` in a temporary folder.
public struct TestCertificates: Sendable {
    public let directory: URL

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    public func pem(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("virthost-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        _ = try run("openssl", ["req", "-x509"] + curve + ["-keyout", path("ca.key"), "-out", path("ca.pem"),
                                                          "-days", "2", "-subj", "/CN=virthost test CA"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try sign("server", subject: "/CN=localhost", extensions: path("server.ext"))
        try sign("client", subject: "/O=ops/CN=compute-manager", extensions: nil)
        _ = try run("openssl", ["req", "-x509"] + curve + ["-keyout", path("rogue.key"), "-out", path("rogue.pem"),
                                                          "-days", "2", "-subj", "/CN=rogue"])
    }

    private func sign(_ name: String, subject: String, extensions: String?) throws {
        _ = try run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject])
        _ = try run("openssl", ["x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                                "-CAcreateserial", "-out", path("\(name).pem"), "-days", "2"]
                               + (extensions.map { ["-extfile", $0] } ?? []))
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}
