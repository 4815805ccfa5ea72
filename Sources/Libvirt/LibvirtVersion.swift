/// A version as libvirt encodes it: major × 1,000,000 + minor × 1,000 + micro.
public struct LibvirtVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let micro: Int

    public init(major: Int, minor: Int, micro: Int) {
        self.major = major
        self.minor = minor
        self.micro = micro
    }

    public init(code: UInt64) {
        self.init(major: Int(code / 1_000_000), minor: Int(code / 1_000 % 1_000), micro: Int(code % 1_000))
    }

    /// Parses `"9.0.0"`, `"9.0"` or `"9"`; missing parts are 0. Each part must be 0...999
    /// except the major.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var numbers: [Int] = []
        for part in parts {
            guard !part.isEmpty, part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                  part.count <= 9, let value = Int(part) else { return nil }
            numbers.append(value)
        }
        while numbers.count < 3 { numbers.append(0) }
        guard numbers[1] < 1000, numbers[2] < 1000 else { return nil }
        self.init(major: numbers[0], minor: numbers[1], micro: numbers[2])
    }

    /// The integer form libvirt reports and compares.
    public var code: Int { major * 1_000_000 + minor * 1_000 + micro }

    public var description: String { "\(major).\(minor).\(micro)" }

    public static func < (lhs: LibvirtVersion, rhs: LibvirtVersion) -> Bool { lhs.code < rhs.code }
}
