/// The verdict of ``HTTPServer/Configuration/admission`` on a request's head, before its body
/// is read or a route runs.
public enum Admission: Sendable {
    /// Let it through; `principal` names who sent it (for handlers and the completion hook).
    case admit(principal: String?)
    /// Answer with this problem at once; the body is not read. `principal` names the caller
    /// when it is known but may not do this (for the completion hook's audit).
    case refuse(Problem, principal: String? = nil)
}
