import Foundation

/// Files under `Tests/Fixtures`, by absolute path (the test driver takes `test:///<path>`).
public enum Fixtures {
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A test-driver node with domains running, paused, crashed and shut off.
    public static let domainsInEveryStateURI = "test://" + path("domains-in-every-state.xml")

    /// A test driver of its own (test:///default is one driver shared by every connection of
    /// the process, so tests that change domains must not use it): one running domain,
    /// `test`, with 2 vCPUs.
    public static func privateTestDriverURI() throws -> String {
        try testDriverURI(node: """
            <node>
              <cpu><mhz>2000</mhz><model>i686</model><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>
              <memory>4194304</memory>
              <domain type='test'>
                <name>test</name><memory>1048576</memory><vcpu>2</vcpu><os><type>hvm</type></os>
              </domain>
            </node>
            """)
    }

    /// A test-driver URI for a node document written to a temporary file.
    public static func testDriverURI(node xml: String) throws -> String {
        let file = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("virthost-node-\(UUID().uuidString).xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        return "test://" + file.path
    }
}
