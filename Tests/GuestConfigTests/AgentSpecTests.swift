import Foundation
@testable import GuestConfig
import Testing
import TestSupport

/// The guest-agent channel, user-mode interfaces and the kernel command line's limits.
@Suite(.paced) struct AgentSpecTests {
    func xml(_ json: String) throws -> String {
        // Without the indentation between elements, so fragments compare on one line.
        GuestXML.xml(try GuestDefinition(try GuestSpec.parse(json: Data(json.utf8))))
            .replacingOccurrences(of: #">\s+<"#, with: "><", options: .regularExpression)
    }

    func pointers(_ json: String) -> [String] { FieldErrorTests.errors(json).map(\.pointer) }

    @Test func everyGuestHasTheAgentChannelUnlessTurnedOff() throws {
        let channel = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
        #expect(try xml(#"{"name":"a","memory_mb":1}"#).contains(channel))
        #expect(try !xml(#"{"name":"a","memory_mb":1,"agent":false}"#).contains("<channel"))
        #expect(pointers(#"{"name":"a","memory_mb":1,"agent":"yes"}"#) == ["/agent"])
    }

    @Test func aUserInterfaceHasNoSourceAndRefusesHostDeviceFields() throws {
        let rendered = try xml(#"{"name":"a","memory_mb":1,"interfaces":[{"type":"user","mac":"52:54:00:00:00:09"}]}"#)
        #expect(rendered.contains("<interface type='user'><mac address='52:54:00:00:00:09'/><model type='virtio'/></interface>"))
        let refused = pointers(#"""
            {"name":"a","memory_mb":1,"interfaces":[{"type":"user","source":"br0","target":"tap9","queues":2,
             "filter":{"name":"clean-traffic"}},{"type":"user","firewall":{"allowed_ips":["10.0.0.1"]}}]}
            """#)
        #expect(Set(refused) == ["/interfaces/0/source", "/interfaces/0/target", "/interfaces/0/queues",
                                 "/interfaces/0/filter", "/interfaces/1/firewall"])
    }

    @Test func theKernelCommandLineIsLimitedAndHasNoControlCharacters() throws {
        let long = String(repeating: "a", count: OSSpec.cmdlineMaxBytes + 1)
        #expect(pointers(#"{"name":"a","memory_mb":1,"os":{"kernel":"/images/k","cmdline":"\#(long)"}}"#) == ["/os/cmdline"])
        #expect(Set(pointers(#"{"name":"a","memory_mb":1,"os":{"kernel":"/images/k","cmdline":"console=ttyS0\ninit=/x"}}"#)) == ["/os/cmdline"])
        #expect(pointers(#"{"name":"a","memory_mb":1,"os":{"kernel":"/images/k","cmdline":"a\u0085b"}}"#) == ["/os/cmdline"])
        let fits = String(repeating: "a", count: OSSpec.cmdlineMaxBytes)
        #expect(try xml(#"{"name":"a","memory_mb":1,"os":{"kernel":"/images/k","initrd":"/images/i","cmdline":"\#(fits)"}}"#)
            .contains("<kernel>/images/k</kernel><initrd>/images/i</initrd><cmdline>\(fits)</cmdline>"))
    }
}
