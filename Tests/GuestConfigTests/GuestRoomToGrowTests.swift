import Foundation
@testable import GuestConfig
import Testing
import TestSupport

/// `max_vcpus` and `max_memory_mb`: a guest defined with room to grow.
@Suite(.paced) struct GuestRoomToGrowTests {
    func definition(_ json: String) throws -> GuestDefinition {
        try GuestDefinition(try GuestSpec.parse(json: Data(json.utf8)))
    }

    func fieldErrors(_ json: String) -> [String] {
        do {
            _ = try definition(json)
            return []
        } catch let error as GuestSpecError {
            return error.errors.map(\.pointer)
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test func roomToGrowRendersCurrentAndMaximum() throws {
        let xml = GuestXML.xml(try definition(#"{"name":"a","memory_mb":64,"max_memory_mb":128,"vcpus":1,"max_vcpus":4}"#))
        #expect(xml.contains("<memory unit='MiB'>128</memory>"))
        #expect(xml.contains("<currentMemory unit='MiB'>64</currentMemory>"))
        #expect(xml.contains("<vcpu placement='static' current='1'>4</vcpu>"))
        // The default topology counts every vCPU the guest may have.
        #expect(try definition(#"{"name":"a","memory_mb":1,"vcpus":1,"max_vcpus":4}"#).topology.sockets == 4)
    }

    @Test func withoutRoomTheXMLIsAsBefore() throws {
        for json in [#"{"name":"a","memory_mb":64,"vcpus":2}"#, #"{"name":"a","memory_mb":64,"vcpus":2,"max_vcpus":2,"max_memory_mb":64}"#] {
            let xml = GuestXML.xml(try definition(json))
            #expect(xml.contains("<memory unit='MiB'>64</memory>"))
            #expect(xml.contains("<currentMemory unit='MiB'>64</currentMemory>"))
            #expect(xml.contains("<vcpu placement='static'>2</vcpu>"))
        }
    }

    @Test func maximumsBelowTheCurrentSizesAreFieldErrors() {
        #expect(fieldErrors(#"{"name":"a","memory_mb":64,"max_memory_mb":32,"vcpus":2,"max_vcpus":1}"#)
            == ["/max_vcpus", "/max_memory_mb"])
        #expect(fieldErrors(#"{"name":"a","memory_mb":64,"max_vcpus":70000}"#) == ["/max_vcpus"])
        #expect(fieldErrors(#"{"name":"a","memory_mb":64,"max_memory_mb":"lots"}"#) == ["/max_memory_mb"])
        // A given topology multiplies to the maximum.
        #expect(fieldErrors(#"{"name":"a","memory_mb":1,"vcpus":2,"max_vcpus":4,"cpu":{"topology":{"sockets":1,"cores":2,"threads":1}}}"#)
            == ["/cpu/topology"])
        #expect(fieldErrors(#"{"name":"a","memory_mb":1,"vcpus":2,"max_vcpus":4,"cpu":{"topology":{"sockets":1,"cores":4,"threads":1}}}"#)
            == [])
    }

    @Test func patchReadsSizes() {
        let (patch, errors) = DomainPatch.read(json: Array(#"{"vcpus":2,"memory_mb":512}"#.utf8))
        #expect(errors.isEmpty && patch?.vcpus == 2 && patch?.memoryMB == 512)
        for (body, pointer) in [(#"{"vcpus":0}"#, "/vcpus"), (#"{"vcpus":1.5}"#, "/vcpus"), (#"{"memory_mb":null}"#, "/memory_mb"),
                                (#"{"memory_mb":"1G"}"#, "/memory_mb"), (#"{"vcpus":65536}"#, "/vcpus")] {
            let (read, errors) = DomainPatch.read(json: Array(body.utf8))
            #expect(read == nil && errors.map(\.pointer) == [pointer], "\(body)")
        }
    }
}

/// `labels` at creation: rendered in the namespace a domain patch keeps them in.
extension GuestRoomToGrowTests {
    @Test func labelsRenderInTheirOwnNamespace() throws {
        // The serialiser indents: compare without the whitespace between elements.
        func compact(_ xml: String) -> String {
            xml.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined()
        }
        let xml = compact(GuestXML.xml(try definition(#"{"name":"a","memory_mb":1,"labels":{"b":"2","a":"1"}}"#)))
        #expect(xml.contains("<metadata><virthost:labels xmlns:virthost='https://virthost.dev/xmlns/labels/1'>"
            + "<virthost:label key='a'>1</virthost:label><virthost:label key='b'>2</virthost:label></virthost:labels></metadata>"),
                "\(xml)")
        let both = compact(GuestXML.xml(try definition(#"{"name":"a","memory_mb":1,"metadata":{"k":"v"},"labels":{"a":"1"}}"#)))
        #expect(both.contains("</virthost:guest><virthost:labels"))
        let many = (0...64).map { #""k\#($0)":"v""# }.joined(separator: ",")
        #expect(fieldErrors(#"{"name":"a","memory_mb":1,"labels":{\#(many)}}"#) == ["/labels"])
    }
}
