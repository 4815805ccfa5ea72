import GuestConfig
import Testing
import TestSupport

/// The guest agent's `guest-info` answer read: version, and the enabled commands only.
@Suite(.paced) struct AgentInfoTests {
    @Test func versionAndEnabledCommandsAreRead() throws {
        let answer = #"""
            {"return":{"version":"7.2.11","supported_commands":[
              {"enabled":true,"name":"guest-ping","success-response":true},
              {"enabled":false,"name":"guest-exec","success-response":true},
              {"name":"guest-info","success-response":true},
              {"enabled":true,"success-response":true}]}}
            """#
        let info = try #require(AgentInfo.read(json: Array(answer.utf8)))
        #expect(info.version == "7.2.11")
        #expect(info.commands == ["guest-ping", "guest-info"], "a disabled command and a nameless one are left out")
    }

    @Test func whatIsNotAnAnswerIsNil() {
        #expect(AgentInfo.read(json: Array("not json".utf8)) == nil)
        #expect(AgentInfo.read(json: Array(#"{"error":{"class":"CommandNotFound"}}"#.utf8)) == nil)
        #expect(AgentInfo.read(json: Array(#"{"return":{}}"#.utf8)) == AgentInfo(version: nil, commands: []))
    }
}
