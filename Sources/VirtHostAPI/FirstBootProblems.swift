import HTTPServer
import VirtHost

/// A first-boot disk whose ISO image could not be made (the tool missing, failing or too
/// slow): the service's failure, not the caller's, and nothing of the create stays.
extension ISOImageError: ProblemConvertible {
    public var problem: Problem {
        Problem(type: Problem.type(APIProblem.firstBootDiskFailed), title: "First-Boot Disk Failed", status: 500,
                detail: description)
    }
}

extension APIProblem {
    static let firstBootDiskFailed = "first-boot-disk-failed"
}
