/// The formats libvirt's RelaxNG schema (`/usr/share/libvirt/schemas/*.rng`) gives the values
/// a spec puts into the domain XML, so a spec is refused with its field named rather than by
/// libvirt at define time. Each is read byte by byte: the patterns are ASCII.
enum LibvirtFormats {
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: false
        }
    }

    /// One or more bytes, each alphanumeric or one of `others`.
    static func consists(of text: String, alphanumericsAnd others: StaticString) -> Bool {
        !text.utf8.isEmpty && text.utf8.allSatisfy { byte in
            isAlphanumeric(byte) || others.withUTF8Buffer { $0.contains(byte) }
        }
    }

    /// `dnsName`: `[a-zA-Z0-9.-]+` (so also every IPv4 address).
    static func isDNSName(_ text: String) -> Bool { consists(of: text, alphanumericsAnd: ".-") }

    /// `addrIPorName`: an IPv4 or IPv6 address or a host name, as `graphics.listen` and a
    /// network disk's hosts must be.
    static func isAddressOrHostName(_ text: String) -> Bool { isDNSName(text) || isIPv6(text) }

    /// libvirt's `ipv6Addr` pattern, whole. Built per call: only text with a `:` gets here.
    static func isIPv6(_ text: String) -> Bool {
        guard text.utf8.contains(UInt8(ascii: ":")), consists(of: text, alphanumericsAnd: ":."),
              let regex = try? Regex(ipv6Pattern) else { return false }
        return (try? regex.wholeMatch(in: text)) != nil
    }

    static let ipv4Pattern = "(((25[0-5])|(2[0-4][0-9])|(1[0-9]{2})|([1-9][0-9])|([0-9]))\\.){3}((25[0-5])|(2[0-4][0-9])|(1[0-9]{2})|([1-9][0-9])|([0-9]))"
    static let ipv6Pattern = [
        "(([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4})", "(([0-9A-Fa-f]{1,4}:){6}:[0-9A-Fa-f]{1,4})",
        "(([0-9A-Fa-f]{1,4}:){5}:([0-9A-Fa-f]{1,4}:)?[0-9A-Fa-f]{1,4})",
        "(([0-9A-Fa-f]{1,4}:){4}:([0-9A-Fa-f]{1,4}:){0,2}[0-9A-Fa-f]{1,4})",
        "(([0-9A-Fa-f]{1,4}:){3}:([0-9A-Fa-f]{1,4}:){0,3}[0-9A-Fa-f]{1,4})",
        "(([0-9A-Fa-f]{1,4}:){2}:([0-9A-Fa-f]{1,4}:){0,4}[0-9A-Fa-f]{1,4})",
        "(([0-9A-Fa-f]{1,4}:){6}\(ipv4Pattern))", "(([0-9A-Fa-f]{1,4}:){0,5}:\(ipv4Pattern))",
        "(::([0-9A-Fa-f]{1,4}:){0,5}\(ipv4Pattern))", "([0-9A-Fa-f]{1,4}::([0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4})",
        "(::([0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4})", "(([0-9A-Fa-f]{1,4}:){1,7}:)", "(::)",
    ].joined(separator: "|")

    /// `deviceName` (`[a-zA-Z0-9_.\-\\:/]+`), and no longer than Linux takes a network
    /// device's name (IFNAMSIZ less its NUL): an interface's `target` and a direct source.
    static let maximumNetworkDeviceBytes = 15
    static func isNetworkDeviceName(_ text: String) -> Bool {
        text.utf8.count <= maximumNetworkDeviceBytes && consists(of: text, alphanumericsAnd: "_.-\\:/")
    }

    /// The `bridge` attribute: `[a-zA-Z0-9_.\-\\:/ ]*`, and at most a Linux device name.
    static func isBridgeName(_ text: String) -> Bool {
        text.utf8.count <= maximumNetworkDeviceBytes && consists(of: text, alphanumericsAnd: "_.-\\:/ ")
    }

    /// A `filterref`'s filter: an XML NCName, here in ASCII (`[A-Za-z_][A-Za-z0-9_.-]*`).
    static func isFilterName(_ text: String) -> Bool {
        guard let first = text.utf8.first, first == UInt8(ascii: "_") || (isAlphanumeric(first) && first > UInt8(ascii: "9"))
        else { return false }
        return consists(of: text, alphanumericsAnd: "_.-")
    }

    /// `filter-param-name`: `[a-zA-Z0-9_]+`.
    static func isFilterParameterName(_ text: String) -> Bool { consists(of: text, alphanumericsAnd: "_") }
    /// `filter-param-value`: `[a-zA-Z0-9_.:]+`.
    static func isFilterParameterValue(_ text: String) -> Bool { consists(of: text, alphanumericsAnd: "_.:") }

    /// `diskSerial`: `[A-Za-z0-9_.+\- ]+`.
    static func isDiskSerial(_ text: String) -> Bool { consists(of: text, alphanumericsAnd: "_.+- ") }

    /// `featureName`: `[a-zA-Z0-9\-_.]+`.
    static func isCPUFeatureName(_ text: String) -> Bool { consists(of: text, alphanumericsAnd: "-_.") }

    /// The `machine` attribute of `<type>`: `[a-zA-Z0-9_.\-]+`.
    static func isMachineName(_ text: String) -> Bool { consists(of: text, alphanumericsAnd: "_.-") }

    /// `absFilePath` (`(/|[a-zA-Z]:\\).+`), the POSIX half: `/` and at least one more byte.
    static func isAbsoluteFilePath(_ text: String) -> Bool { text.utf8.first == UInt8(ascii: "/") && text.utf8.count > 1 }

    /// `archnames`.
    static let architectures: Set<String> = [
        "aarch64", "alpha", "armv6l", "armv7l", "cris", "i686", "ia64", "lm32", "m68k", "microblaze", "microblazeel",
        "mips", "mipsel", "mips64", "mips64el", "openrisc", "parisc", "parisc64", "ppc", "ppc64", "ppc64le", "ppcemb",
        "riscv32", "riscv64", "s390", "s390x", "sh4", "sh4eb", "sparc", "sparc64", "unicore32", "x86_64",
    ]

    /// Whether the text is blank: empty or only spaces (libvirt trims names it reads).
    static func isBlank(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
    }
}
