import CYAML

/// Checks `#cloud-config` user data the way cloud-init reads it: it must parse as YAML and be
/// a mapping at its top (cloud-init's schema check refuses anything else with "Cloud-config is
/// not a YAML dict").
///
/// The parser is libyaml (Debian's libyaml-dev), the C implementation PyYAML (and so
/// cloud-init) descends from and shares its error marks with: a well-kept library, and no
/// Foundation (which the Swift YAML libraries need and this module does without). Only its
/// event stream is read, never a document built, so hostile input costs no memory.
public enum CloudConfigYAML {
    /// Why the text is not a cloud-config, with the line and column (1-based) cloud-init
    /// reports for a syntax error; nil when it is one.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        public var line: Int?
        public var column: Int?
        public var detail: String

        public var description: String {
            guard let line, let column else { return detail }
            return "is not valid YAML at line \(line), column \(column): \(detail)"
        }
    }

    /// Does this user data declare itself a cloud-config?
    public static func isCloudConfig(_ userData: String) -> Bool {
        userData.hasPrefix("#cloud-config")
    }

    /// Parses `text` to its end: the first error, or a top that is not a mapping.
    public static func problem(in text: String) -> Problem? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return Problem(detail: "the YAML parser could not start") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer -> Problem? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var depth = 0
            var topChecked = false
            var documents = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return syntaxProblem(parser) }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    // An empty document is null to cloud-init, which is not a mapping either.
                    return topChecked ? nil : Problem(detail: "must be a YAML mapping (cloud-init refuses an empty cloud-config)")
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    if documents > 1 { return Problem(detail: "must be one YAML document, not several") }
                case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT:
                    if depth == 0, !topChecked {
                        guard event.type == YAML_MAPPING_START_EVENT else {
                            return Problem(detail: "must be a YAML mapping at its top, as cloud-init requires")
                        }
                        topChecked = true
                    }
                    depth += 1
                case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                    depth -= 1
                case YAML_SCALAR_EVENT, YAML_ALIAS_EVENT:
                    if depth == 0, !topChecked {
                        return Problem(detail: "must be a YAML mapping at its top, as cloud-init requires")
                    }
                default:
                    break
                }
            }
        }
    }

    /// PyYAML (and so cloud-init) reports the context's mark when there is one, else the
    /// problem's; libyaml's marks are 0-based.
    private static func syntaxProblem(_ parser: yaml_parser_t) -> Problem {
        let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
        let context = parser.context.map { String(cString: $0) }
        let mark = context != nil ? parser.context_mark : parser.problem_mark
        let detail = context.map { "\($0): \(problem)" } ?? problem
        return Problem(line: Int(mark.line) + 1, column: Int(mark.column) + 1, detail: detail)
    }
}
