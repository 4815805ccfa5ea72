import Logging

/// What a multi-step operation has made so far, and how to unmake it (a saga): each step that
/// makes something registers its undo right after, and on failure the undos run newest first.
/// A step registers only for what it made itself, so a request that loses a race undoes its
/// own work and nothing of the winner's.
public struct Undo: Sendable {
    private var steps: [(name: String, undo: @Sendable () async -> Bool)] = []

    public init() {}

    /// Registers how to undo the step `name` just done; `undo` returns whether it succeeded.
    public mutating func register(_ name: String, _ undo: @escaping @Sendable () async -> Bool) {
        steps.append((name, undo))
    }

    /// Runs every registered undo, newest first, and forgets them. Returns the steps whose
    /// undo failed (what stays behind), oldest first.
    public mutating func rollback() async -> [String] {
        var failed: [String] = []
        for step in steps.reversed() where await !step.undo() {
            failed.insert(step.name, at: 0)
        }
        steps.removeAll()
        return failed
    }

    /// Runs `body`, the steps of one operation; if it throws, what it registered is undone
    /// before the error goes on. `body` can read whether an undo failed from the error it
    /// throws only if it rolls back itself (see ``rollback()``).
    public static func run<T>(_ operation: String, logger: Logger,
                              _ body: (inout Undo) async throws -> T) async throws -> T {
        var undo = Undo()
        do {
            return try await body(&undo)
        } catch {
            let count = undo.steps.count
            let left = await undo.rollback()
            if count > 0 {
                logger.warning("\(operation) failed; undone", metadata: [
                    "error": "\(error)", "steps_undone": "\(count - left.count)",
                    "left_behind": "\(left.joined(separator: ","))",
                ])
            }
            throw error
        }
    }
}
