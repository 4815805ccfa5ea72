import HTTPServer
import Libvirt

/// Reading query parameters: a malformed value is a 400 problem naming the parameter,
/// never a silent default.
extension Request {
    func bool(_ name: String, default value: Bool) throws(Problem) -> Bool {
        guard let text = query(name) else { return value }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        // An empty value (`?force=` or a bare `?force`) is no boolean, as the document says;
        // taking it for either would guess what the client meant.
        case "": throw .badRequest("\(name) must be true or false, got an empty value", parameter: name)
        default: throw .badRequest("\(name) must be true or false, got \(text)", parameter: name)
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ name: String, default value: T) throws(Problem) -> T
        where T.RawValue == String {
        guard let text = query(name) else { return value }
        guard let choice = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw .badRequest("\(name) must be one of \(allowed), got \(text)", parameter: name)
        }
        return choice
    }

    func version(_ name: String) throws(Problem) -> LibvirtVersion? {
        guard let text = query(name) else { return nil }
        guard let version = LibvirtVersion(text) else {
            throw .badRequest("\(name) must be a version like 9.0.0, got \(text)", parameter: name)
        }
        return version
    }

    /// A whole number in `range`, or nil when absent.
    func integer(_ name: String, in range: ClosedRange<Int>) throws(Problem) -> Int? {
        guard let text = query(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(text)",
                              parameter: name)
        }
        return value
    }

    /// A non-empty string parameter, or nil when absent or empty.
    func text(_ name: String) -> String? {
        guard let value = query(name), !value.isEmpty else { return nil }
        return value
    }
}
