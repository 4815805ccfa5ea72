import ArgumentParser
import FoundationEssentials
import Locking

/// Environment variables as the defaults of flags, read the same way for every component:
/// an empty variable counts as unset; a value that does not parse as its flag's type is
/// recorded under the variable's name, and ``refuseUnparsed()`` (run when the command
/// validates) refuses the start naming it. Nothing is silently read as a default.
enum Environment {
    private static let unparsed = Mutex<[String: String]>([:])

    static func string(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// The variable's value as `T`, or `value` when it is unset or does not parse (then
    /// recorded, and refused by ``refuseUnparsed()``).
    static func value<T: EnvironmentValue>(_ name: String, default value: T) -> T {
        guard let text = string(name) else { return value }
        guard let parsed = T(environmentValue: text) else {
            unparsed.withLock { $0[name] = "\(name) must be \(T.expected), got \(text)" }
            return value
        }
        return parsed
    }

    /// A list in one variable, split at `separator`.
    static func list(_ name: String, separator: Character) -> [String] {
        string(name)?.split(separator: separator).map(String.init) ?? []
    }

    /// Throws one error naming every variable whose value did not parse.
    static func refuseUnparsed() throws {
        let problems = unparsed.withLock { $0 }
        guard !problems.isEmpty else { return }
        throw ValidationError(problems.keys.sorted().compactMap { problems[$0] }.joined(separator: "; "))
    }
}

/// A type an environment variable can hold.
protocol EnvironmentValue {
    init?(environmentValue: String)
    /// What a value must look like, for the error.
    static var expected: String { get }
}

extension Int: EnvironmentValue {
    init?(environmentValue text: String) { self.init(text) }
    static var expected: String { "a whole number" }
}

extension Bool: EnvironmentValue {
    init?(environmentValue text: String) {
        switch text.lowercased() {
        case "1", "true", "yes", "on": self = true
        case "0", "false", "no", "off": self = false
        default: return nil
        }
    }

    static var expected: String { "true or false (1/0, yes/no, on/off)" }
}

extension String: EnvironmentValue {
    init?(environmentValue text: String) { self = text }
    static var expected: String { "text" }
}

/// Range checks that name the flag and its variable.
enum Require {
    static func atLeast(_ minimum: Int, _ value: Int, _ flag: String, _ variable: String) throws {
        guard value >= minimum else {
            throw ValidationError("\(flag) (\(variable)) must be at least \(minimum), got \(value)")
        }
    }
}
