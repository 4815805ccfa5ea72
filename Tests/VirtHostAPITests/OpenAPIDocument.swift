import Foundation

/// `openapi/openapi.yaml`, read for the operations it declares.
enum OpenAPIDocument {
    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("openapi/openapi.yaml")

    static let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

    /// Every `METHOD path` under `paths:`. The document keeps the usual layout: paths at two
    /// spaces, their methods at four.
    static func operations() throws -> Set<String> { Set(try scopes().keys) }

    /// Every operation's `x-required-scope`: `read`, `write`, or "public" for the operations
    /// with `security: []`; "" when it says neither.
    static func scopes() throws -> [String: String] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var operations: [String: String] = [:]
        var currentOperation: String?
        var inPaths = false
        var currentPath: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix(while: { $0 == " " }).count
            let content = line.dropFirst(indent)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if indent == 0 {
                inPaths = content == "paths:"
                continue
            }
            guard inPaths else { continue }
            if indent == 2, content.hasSuffix(":") {
                currentPath = String(content.dropLast()).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            } else if indent == 4, content.hasSuffix(":"), let currentPath {
                let method = String(content.dropLast())
                if methods.contains(method) {
                    currentOperation = "\(method.uppercased()) \(currentPath)"
                    operations[currentOperation!] = ""
                }
            } else if indent == 6, let currentOperation {
                if content.hasPrefix("x-required-scope: ") {
                    operations[currentOperation] = String(content.dropFirst("x-required-scope: ".count))
                } else if content == "security: []" {
                    operations[currentOperation] = "public"
                }
            }
        }
        return operations
    }
}
