import FoundationEssentials

/// An OpenSSH public key line, as `authorized_keys` holds one without options:
/// `<type> <base64 body> [comment]`. The body is the key blob, which starts with its own type
/// as a length-prefixed string (RFC 4253 §6.6), so a body pasted under the wrong type, or one
/// that is not base64, is caught here rather than by sshd in the guest.
public struct SSHPublicKey: Sendable, Hashable {
    /// The key types OpenSSH accepts in `authorized_keys`.
    public static let types: Set<String> = [
        "ssh-ed25519", "ssh-rsa", "ssh-dss",
        "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ]
    /// Longer than any real key (an RSA-16384 line is about 2.8 KiB).
    public static let maximumBytes = 16 * 1024

    public var type: String
    public var body: String
    public var comment: String?

    /// The line as written to the guest: type, body and comment separated by one space.
    public var line: String { [type, body, comment].compactMap { $0 }.joined(separator: " ") }

    /// Parses one key; the error says what is wrong.
    public static func parse(_ text: String) -> Result<SSHPublicKey, Refusal> {
        guard text.utf8.count <= maximumBytes else { return .failure(Refusal("must be at most \(maximumBytes) bytes")) }
        // One space between the fields, as ssh-keygen writes them (and the API's schema states).
        let fields = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2, !fields[0].isEmpty, !fields[1].isEmpty else {
            return .failure(Refusal("must be an OpenSSH public key: a type, its base64 body and an optional comment"))
        }
        let type = String(fields[0])
        guard types.contains(type) else {
            return .failure(Refusal("must start with a key type OpenSSH knows (\(types.sorted().joined(separator: ", "))), got \(type.prefix(40))"))
        }
        let body = String(fields[1])
        guard let blob = Data(base64Encoded: body), !blob.isEmpty else {
            return .failure(Refusal("has a body that is not base64"))
        }
        // The blob's first field: a 32-bit big-endian length and the type's name.
        let bytes = [UInt8](blob)
        guard bytes.count >= 4 else { return .failure(Refusal("has a body too short to be a \(type) key")) }
        let length = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= bytes.count - 4, String(decoding: bytes[4..<(4 + length)], as: UTF8.self) == type else {
            return .failure(Refusal("has a body that is not a \(type) key"))
        }
        let comment = fields.count > 2 ? String(fields[2]) : nil
        return .success(SSHPublicKey(type: type, body: body, comment: comment))
    }

    /// Why a key was refused.
    public struct Refusal: Error, Sendable, Hashable {
        public var detail: String
        init(_ detail: String) { self.detail = detail }
    }
}
