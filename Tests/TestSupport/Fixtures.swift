import Foundation

/// Files under `Tests/Fixtures`, by absolute path (the test driver takes `test:///<path>`).
public enum Fixtures {
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A test-driver node with domains running, paused, crashed and shut off.
    public static let domainsInEveryStateURI = "test://" + path("domains-in-every-state.xml")

    /// A test-driver URI for a node document written to a temporary file.
    public static func testDriverURI(node xml: String) throws -> String {
        let file = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("virthost-node-\(UUID().uuidString).xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        return "test://" + file.path
    }
}
