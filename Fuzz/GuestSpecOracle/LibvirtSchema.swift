import CLibXML2
import Foundation

/// libvirt's own RelaxNG schemas (`domain.rng`, `nwfilter.rng`), read once with libxml2's
/// RelaxNG validator: what `virt-xml-validate` and libvirt's define with validation check. A
/// spec the service accepts must render a document these accept, or libvirt refuses it late.
public final class LibvirtSchema: @unchecked Sendable {
    // @unchecked: the parsed schema is only read after `init`, and every validation runs
    // under `lock` (libxml2 does not promise that one schema may validate on two threads).
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where libvirt installs its schemas (Debian's libvirt0); `VIRTHOST_LIBVIRT_SCHEMAS`
    /// points elsewhere.
    public static let directory = ProcessInfo.processInfo.environment["VIRTHOST_LIBVIRT_SCHEMAS"]
        ?? "/usr/share/libvirt/schemas"

    /// The domain schema, or why it could not be read (a missing libvirt is a failure, not a
    /// pass).
    public static let domain = Result { () throws(Refusal) -> LibvirtSchema in try LibvirtSchema(file: "domain.rng") }
    public static let nwfilter = Result { () throws(Refusal) -> LibvirtSchema in try LibvirtSchema(file: "nwfilter.rng") }

    private let schema: xmlRelaxNGPtr
    private let lock = NSLock()
    public let path: String

    init(file: String) throws(Refusal) {
        path = Self.directory + "/" + file
        xmlInitParser()
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw Refusal(description: "libvirt's schema \(path) is not there (install libvirt0)")
        }
        guard let context = xmlRelaxNGNewParserCtxt(path) else { throw Refusal(description: "cannot read \(path)") }
        defer { xmlRelaxNGFreeParserCtxt(context) }
        guard let schema = xmlRelaxNGParse(context) else { throw Refusal(description: "cannot parse \(path)") }
        self.schema = schema
    }

    /// Collects the validator's messages for one document.
    private final class Messages {
        var lines: [String] = []
    }

    /// Validates one document; the refusal carries libxml2's messages (element path, line).
    public func validate(_ xml: String) throws(Refusal) {
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        let bytes = Array(xml.utf8)
        let document = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                xmlReadMemory(chars.baseAddress, Int32(chars.count), "rendered.xml", "UTF-8", options)
            }
        }
        guard let document else { throw Refusal(description: "not well-formed XML") }
        defer { xmlFreeDoc(document) }
        let messages = Messages()
        let result: Int32 = lock.withLock {
            guard let context = xmlRelaxNGNewValidCtxt(schema) else { return -1 }
            defer { xmlRelaxNGFreeValidCtxt(context) }
            let box = Unmanaged.passUnretained(messages).toOpaque()
            xmlRelaxNGSetValidStructuredErrors(context, { box, error in
                guard let box, let error else { return }
                let messages = Unmanaged<Messages>.fromOpaque(box).takeUnretainedValue()
                let text = error.pointee.message.map { String(cString: $0) } ?? "unknown error"
                let node = error.pointee.node?.assumingMemoryBound(to: xmlNode.self)
                let name = node?.pointee.name.map { String(cString: $0) }
                messages.lines.append("line \(error.pointee.line)\(name.map { " <\($0)>" } ?? ""): "
                                      + text.trimmingCharacters(in: .whitespacesAndNewlines))
            }, box)
            return withExtendedLifetime(messages) { xmlRelaxNGValidateDoc(context, document) }
        }
        guard result == 0 else {
            throw Refusal(description: "refused by \(path): " + (messages.lines.isEmpty ? "code \(result)" : messages.lines.joined(separator: "; ")))
        }
    }
}
