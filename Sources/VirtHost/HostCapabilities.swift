import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The parts of libvirt's capabilities XML the Host reads, parsed as a tree.
public struct HostCapabilities: Sendable, Hashable {
    public var cpuArch: String
    public var cpuModel: String?
    public var cpuVendor: String?

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(xml: String) throws {
        let document: XMLDocument
        do {
            document = try XMLDocument(xmlString: xml, options: [])
        } catch {
            throw ParseError(description: "capabilities XML does not parse: \(error)")
        }
        func text(_ path: String) -> String? {
            guard let node = try? document.nodes(forXPath: path).first,
                  let value = node.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines),
                  !value.isEmpty else { return nil }
            return value
        }
        guard let arch = text("/capabilities/host/cpu/arch") else {
            throw ParseError(description: "capabilities XML has no /capabilities/host/cpu/arch")
        }
        cpuArch = arch
        cpuModel = text("/capabilities/host/cpu/model")
        cpuVendor = text("/capabilities/host/cpu/vendor")
    }
}
