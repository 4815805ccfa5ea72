import Foundation
@testable import GuestConfig
import GuestSpecOracle
import Testing
import TestSupport

/// What libvirt's schema (`domain.rng`) and its define-time checks require, each refused as a
/// field error at its pointer before anything is rendered; and numbers read exactly. Each
/// case was a spec the service accepted and libvirt refused (issue 22).
@Suite(.paced) struct LibvirtRulesTests {
    static func errors(_ json: String) -> [FieldError] { FieldErrorTests.errors(json) }

    static let base = #""name":"a","memory_mb":64"#

    static let refused: [(String, String, String)] = [
        // Network disks: nbd and iscsi take exactly one host; host names are DNS names or IPs.
        (#"{\#(base),"disks":[{"type":"network","source":{"protocol":"nbd","name":"e","hosts":[{"name":"a"},{"name":"b"}]}}]}"#,
         "/disks/0/source/hosts", "exactly one host"),
        (#"{\#(base),"disks":[{"type":"network","source":{"protocol":"iscsi","name":"iqn.x/1","hosts":[{"name":"a"},{"name":"b"}]}}]}"#,
         "/disks/0/source/hosts", "exactly one host"),
        (#"{\#(base),"disks":[{"type":"network","source":{"protocol":"rbd","name":"p/i","hosts":[{"name":"mon_1"}]}}]}"#,
         "/disks/0/source/hosts/0/name", "host name"),
        (#"{\#(base),"disks":[{"type":"network","source":{"protocol":"rbd","name":"p/i","hosts":[{"name":"mon 1"}]}}]}"#,
         "/disks/0/source/hosts/0/name", "host name"),
        (#"{\#(base),"disks":[{"type":"network","source":{"protocol":"rbd","name":"  ","hosts":[{"name":"mon"}]}}]}"#,
         "/disks/0/source/name", "must not be empty"),
        // libvirt splits an iSCSI name at its first '/' (target, LUN) and refuses one it cannot split.
        (#"{\#(base),"disks":[{"type":"network","source":{"protocol":"iscsi","name":"iqn.x","hosts":[{"name":"a"}]}}]}"#,
         "/disks/0/source/name", "a '/' and the LUN"),
        (#"{\#(base),"disks":[{"type":"network","source":{"protocol":"iscsi","name":"/1","hosts":[{"name":"a"}]}}]}"#,
         "/disks/0/source/name", "a '/' and the LUN"),
        // Serial log file: absolute, not empty.
        (#"{\#(base),"serial":{"log_file":"console.log"}}"#, "/serial/log_file", "absolute"),
        (#"{\#(base),"serial":{"log_file":""}}"#, "/serial/log_file", "absolute"),
        (#"{\#(base),"serial":{"log_file":"/"}}"#, "/serial/log_file", "absolute"),
        // iotune: a total or read/write, not both.
        (#"{\#(base),"disks":[{"source":"/images/a","iotune":{"total_bytes_sec":1,"read_bytes_sec":1}}]}"#,
         "/disks/0/iotune/total_bytes_sec", "cannot be combined"),
        (#"{\#(base),"disks":[{"source":"/images/a","iotune":{"total_iops_sec":0,"write_iops_sec":1}}]}"#,
         "/disks/0/iotune/total_iops_sec", "cannot be combined"),
        (#"{\#(base),"disks":[{"source":"/images/a","iotune":{"read_bytes_sec":1000000000000001}}]}"#,
         "/disks/0/iotune/read_bytes_sec", "at most 1000000000000000"),
        // Interface device names.
        (#"{\#(base),"interfaces":[{"target":"tap 0"}]}"#, "/interfaces/0/target", "network device name"),
        (#"{\#(base),"interfaces":[{"target":"a-name-longer-than-15"}]}"#, "/interfaces/0/target", "at most 15"),
        (#"{\#(base),"interfaces":[{"type":"direct","source":"eth 0"}]}"#, "/interfaces/0/source", "host network device"),
        (#"{\#(base),"interfaces":[{"type":"bridge","source":"br<0>"}]}"#, "/interfaces/0/source", "bridge name"),
        (#"{\#(base),"interfaces":[{"type":"vhostuser","source":"/"}]}"#, "/interfaces/0/source", "absolute path"),
        // nwfilter names, parameter names and values.
        (#"{\#(base),"interfaces":[{"filter":{"name":"a/b"}}]}"#, "/interfaces/0/filter/name", "filter name"),
        (#"{\#(base),"interfaces":[{"filter":{"name":"1st"}}]}"#, "/interfaces/0/filter/name", "filter name"),
        (#"{\#(base),"interfaces":[{"filter":{"name":"f","parameters":{"I-P":"1"}}}]}"#,
         "/interfaces/0/filter/parameters/I-P", "parameter name"),
        (#"{\#(base),"interfaces":[{"filter":{"name":"f","parameters":{"IP":"10.0.0.1/24"}}}]}"#,
         "/interfaces/0/filter/parameters/IP", "got 10.0.0.1/24"),
        (#"{\#(base),"interfaces":[{"filter":{"name":"f","parameters":{"IP":""}}}]}"#,
         "/interfaces/0/filter/parameters/IP", "letters, digits"),
        // Disk serial.
        (#"{\#(base),"disks":[{"source":"/images/a","serial":"a/b"}]}"#, "/disks/0/serial", "letters, digits"),
        (#"{\#(base),"disks":[{"source":"/images/a","serial":""}]}"#, "/disks/0/serial", "1 or more"),
        // Graphics listen.
        (#"{\#(base),"graphics":{"listen":"0.0.0.0 "}}"#, "/graphics/listen", "IP address or a host name"),
        (#"{\#(base),"graphics":{"listen":"host_name"}}"#, "/graphics/listen", "IP address or a host name"),
        (#"{\#(base),"graphics":{"listen":"1:2:3"}}"#, "/graphics/listen", "IP address or a host name"),
        // CPU.
        (#"{\#(base),"cpu":{"features":[{"name":"a b"}]}}"#, "/cpu/features/0/name", "letters, digits"),
        (#"{\#(base),"cpu":{"mode":"host-passthrough","vendor":"Intel"}}"#, "/cpu/vendor", "only used with mode custom"),
        (#"{\#(base),"cpu":{"vendor":"Intel"}}"#, "/cpu/vendor", "only used with mode custom"),
        (#"{\#(base),"cpu":{"mode":"custom","model":""}}"#, "/cpu/model", "must not be empty"),
        (#"{\#(base),"cpu":{"mode":"custom","model":"Haswell","vendor":" "}}"#, "/cpu/vendor", "must not be empty"),
        // Counts and periods.
        (#"{\#(base),"vcpus":65536}"#, "/vcpus", "at most 65535"),
        (#"{\#(base),"vcpus":65536,"cpu":{"topology":{"sockets":65536,"cores":1,"threads":1}}}"#,
         "/cpu/topology/sockets", "at most 65535"),
        (#"{\#(base),"memballoon":{"stats_period_s":2147483648}}"#, "/memballoon/stats_period_s", "at most 2147483647"),
        (#"{\#(base),"disks":[{"source":"/images/a","boot_order":4294967296}]}"#, "/disks/0/boot_order", "at most 4294967295"),
        // OS: what libvirt's schema takes for arch and machine even without a host to ask.
        (#"{\#(base),"os":{"arch":"x86-64"}}"#, "/os/arch", "architecture"),
        (#"{\#(base),"os":{"machine":"pc q35"}}"#, "/os/machine", "machine type"),
        (#"{\#(base),"os":{"kernel":"/"}}"#, "/os/kernel", "must"),
        // Numbers: past a field's limit, however far, is "at most"; never "a fraction".
        (#"{\#(base),"vcpus":9223372036854775807}"#, "/vcpus", "at most 65535"),
        (#"{\#(base),"vcpus":9223372036854775808}"#, "/vcpus", "must be at most 65535, got 9223372036854775808"),
        (#"{\#(base),"vcpus":18446744073709551616}"#, "/vcpus", "must be at most 65535"),
        (#"{\#(base),"vcpus":1e30}"#, "/vcpus", "must be at most 65535"),
        (#"{\#(base),"vcpus":-9223372036854775809}"#, "/vcpus", "must be at least 1"),
        (#"{\#(base),"disks":[{"source":"/images/a","boot_order":9007199254740993}]}"#,
         "/disks/0/boot_order", "got 9007199254740993"),
        (#"{"name":"a","memory_mb":99999999999999999999999}"#, "/memory_mb", "must be at most 16777216"),
        (#"{\#(base),"vcpus":1.5}"#, "/vcpus", "whole number, got a fraction"),
        (#"{\#(base),"vcpus":1e-1}"#, "/vcpus", "whole number, got a fraction"),
    ]

    @Test(arguments: LibvirtRulesTests.refused)
    func refusedAtItsField(json: String, pointer: String, detail: String) {
        let errors = Self.errors(json)
        #expect(errors.contains { $0.pointer == pointer && $0.detail.contains(detail) }, "\(json) gave \(errors)")
    }

    /// The edges of each rule that libvirt takes are taken, and render documents its schema
    /// accepts.
    static let accepted: [String] = [
        #"{\#(base),"disks":[{"type":"network","source":{"protocol":"nbd","name":"e","hosts":[{"name":"::1","port":10809}]}}]}"#,
        #"{\#(base),"disks":[{"type":"network","source":{"protocol":"rbd","name":"p/i","hosts":[{"name":"a.example"},{"name":"10.0.0.2"},{"name":"fe80::1"}]}}]}"#,
        #"{\#(base),"serial":{"log_file":"/var/log/libvirt/qemu/a.log"}}"#,
        #"{\#(base),"disks":[{"source":"/images/a","serial":"A z_0.9+-","iotune":{"read_bytes_sec":1000000000000000,"write_bytes_sec":0,"total_iops_sec":5}}]}"#,
        #"{\#(base),"interfaces":[{"type":"direct","source":"eth0.100","target":"tap-a_b.c:d"},{"type":"bridge","source":"br0","filter":{"name":"_clean-traffic.v1","parameters":{"IP_1":"10.0.0.1","MAC":"52:54:00:aa:bb:cc"}}}]}"#,
        #"{\#(base),"graphics":{"listen":"::"}}"#,
        #"{\#(base),"graphics":{"listen":"vnc.example.org"}}"#,
        #"{\#(base),"cpu":{"mode":"custom","model":"Haswell","vendor":"Intel","features":[{"name":"avx512-vnni"},{"name":"pcid.x_y"}]}}"#,
        #"{\#(base),"vcpus":65535}"#,
        #"{\#(base),"memballoon":{"stats_period_s":2147483647}}"#,
        #"{\#(base),"disks":[{"source":"/images/a","boot_order":4294967295}]}"#,
        #"{\#(base),"vcpus":1.0,"memballoon":{"stats_period_s":1e3}}"#,
    ]

    @Test(arguments: LibvirtRulesTests.accepted)
    func acceptedAndLibvirtsSchemaAgrees(json: String) throws {
        let (read, readErrors) = GuestSpec.read(json: Data(json.utf8))
        var spec = try #require(read)
        spec.uuid = GuestSpecOracle.uuid
        let definition = try GuestDefinition(spec, policy: FieldErrorTests.policy, readErrors: readErrors)
        try GuestSpecOracle.conforms(GuestXML.xml(definition), to: LibvirtSchema.domain)
    }

    @Test func wholeNumbersAreReadExactly() throws {
        for (text, value) in [("9007199254740993", 9_007_199_254_740_993), ("9223372036854775807", Int.max),
                              ("-9223372036854775808", Int.min), ("4294967295", 4_294_967_295), ("1.0", 1),
                              ("1e3", 1000), ("12.50e1", 125), ("-0", 0), ("0.0e5", 0), ("900719925474099.3e1", 9_007_199_254_740_993)] {
            guard case .integer(let read) = try JSONParser.parse(Array(text.utf8)) else {
                Issue.record("\(text) was not read as a whole number")
                continue
            }
            #expect(read == value, "\(text)")
        }
        for text in ["9223372036854775808", "-9223372036854775809", "1e19", "18446744073709551616", "0.1e1000000000000"] {
            guard case .largeInteger = try JSONParser.parse(Array(text.utf8)) else {
                Issue.record("\(text) was not read as beyond 64 bits")
                continue
            }
        }
        for text in ["1.5", "1e-1", "1e-1000000000000"] {
            guard case .number = try JSONParser.parse(Array(text.utf8)) else {
                Issue.record("\(text) was not read as a fraction")
                continue
            }
        }
        // And rendered as given: 9007199254740993 must not become …992.
        let (read, _) = GuestSpec.read(json: Data(#"{\#(Self.base),"disks":[{"source":"/images/a","boot_order":4294967295}]}"#.utf8))
        let definition = try GuestDefinition(try #require(read), policy: FieldErrorTests.policy)
        #expect(GuestXML.xml(definition).contains("<boot order='4294967295'/>"))
    }

    /// The oracle's schema check refuses what libvirt refuses, so a rule the validation lacks
    /// shows as a violation, not as a pass.
    @Test func theOracleCatchesADocumentLibvirtsSchemaRefuses() throws {
        let (read, _) = GuestSpec.read(json: Data(#"{\#(Self.base),"disks":[{"source":"/images/a","serial":"ok"}]}"#.utf8))
        var spec = try #require(read)
        spec.uuid = GuestSpecOracle.uuid
        let definition = try GuestDefinition(spec, policy: FieldErrorTests.policy)
        let good = GuestXML.xml(definition)
        try GuestSpecOracle.conforms(good, to: LibvirtSchema.domain)
        for (find, replace) in [("<serial>ok</serial>", "<serial>o/k</serial>"), ("<vcpu placement='static'>1<", "<vcpu placement='static'>65536<"),
                                ("<devices>", "<devices><unknown/>")] {
            #expect(good.contains(find))
            #expect(throws: GuestSpecOracle.Violation.self, "\(replace)") {
                try GuestSpecOracle.conforms(good.replacingOccurrences(of: find, with: replace), to: LibvirtSchema.domain)
            }
        }
    }
}
