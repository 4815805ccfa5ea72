import FoundationEssentials

/// `POST /v1/domains/{ref}/password`: `{"user", "password", "encrypted"}`. No error names the
/// password's value: field errors say what is wrong, never what was given.
public struct PasswordChange: Sendable {
    /// Linux's LOGIN_NAME_MAX less its NUL.
    public static let maximumUserBytes = 32
    public static let maximumPasswordBytes = 1024

    public var user: String
    public var password: String
    /// The password is a crypt(3) hash already.
    public var encrypted: Bool

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> PasswordChange {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let user = reader.string("user")
        let password = reader.string("password")
        let encrypted = reader.bool("encrypted") ?? false
        reader.finish()
        if !reader.has("user") { errors.add("/user", "is required") }
        if !reader.has("password") { errors.add("/password", "is required") }
        if let user {
            // What useradd takes: no ':' (chpasswd's separator), no '/' or leading '-'.
            let allowed = user.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "$")
            }
            if user.isEmpty || user.utf8.count > maximumUserBytes || user.hasPrefix("-") || !allowed {
                errors.add("/user", "must be 1 to \(maximumUserBytes) of letters, digits, '_', '-', '.' and '$', not starting with '-'")
            }
        }
        if let password, password.isEmpty || password.utf8.count > maximumPasswordBytes {
            errors.add("/password", "must be 1 to \(maximumPasswordBytes) bytes long")
        }
        guard errors.errors.isEmpty, let user, let password else { throw GuestSpecError(errors.errors) }
        return PasswordChange(user: user, password: password, encrypted: encrypted)
    }
}

/// `POST /v1/domains/{ref}/fs-freeze` and `/fs-thaw`: `{"mountpoints": [...]}`, or no body
/// (every file system).
public struct FileSystemSelection: Sendable, Hashable {
    public static let maximumMountpoints = 64

    /// Guest paths; empty means every file system the agent can freeze.
    public var mountpoints: [String]

    public init(mountpoints: [String] = []) { self.mountpoints = mountpoints }

    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> FileSystemSelection {
        guard data.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { return FileSystemSelection() }
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let items = reader.array("mountpoints")
        reader.finish()
        if items.count > maximumMountpoints { errors.add("/mountpoints", "must list at most \(maximumMountpoints)") }
        var mountpoints: [String] = []
        for item in items {
            guard case .string(let path) = item.value else {
                errors.add(item.pointer, "must be a string")
                continue
            }
            if !path.hasPrefix("/") || path.utf8.count > 4096
                || path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                errors.add(item.pointer, "must be an absolute guest path of at most 4096 bytes, without control characters")
            } else {
                mountpoints.append(path)
            }
        }
        guard errors.errors.isEmpty else { throw GuestSpecError(errors.errors) }
        return FileSystemSelection(mountpoints: mountpoints)
    }
}
