/// What a guest is told on its first boot (`"first_boot"` in a spec): its hostname, SSH keys,
/// user data, network and metadata, on a disk the service makes (``FirstBootDisk``) in
/// cloud-init's NoCloud format or OpenStack's config-drive format.
public struct FirstBootSpec: Sendable, Hashable {
    public static let formats = ["nocloud", "config-drive"]
    /// Nova's limit for user data (`MAX_USERDATA_SIZE`).
    public static let maximumUserDataBytes = 65535
    /// The files on the disk together stay under this (64 KiB, as Nova's limit for user data).
    public static let maximumTotalBytes = 64 * 1024
    public static let maximumKeys = 100
    /// Nova's limits for instance metadata: 128 items, keys and values of up to 255 characters.
    public static let maximumMetaDataItems = 128
    public static let maximumMetaDataBytes = 255

    /// `nocloud` (the default) or `config-drive`.
    public var format: String
    /// The guest's name, made a host name, when nil.
    public var hostname: String?
    public var sshAuthorizedKeys: [String]
    public var userData: String?
    /// DHCP on every interface, matched by MAC, when nil.
    public var networkConfig: NetworkConfig?
    /// Free metadata, string to string (Nova's instance metadata): `meta` in the metadata file.
    public var metaData: [String: String]

    public init(format: String = "nocloud", hostname: String? = nil, sshAuthorizedKeys: [String] = [],
                userData: String? = nil, networkConfig: NetworkConfig? = nil, metaData: [String: String] = [:]) {
        self.format = format
        self.hostname = hostname
        self.sshAuthorizedKeys = sshAuthorizedKeys
        self.userData = userData
        self.networkConfig = networkConfig
        self.metaData = metaData
    }

    /// The label of the disk's ISO 9660 volume, which is how the guest finds it.
    public var volumeLabel: String { format == "config-drive" ? "config-2" : "cidata" }

    init(reader: ObjectReader) {
        format = reader.choice("format", Self.formats) ?? "nocloud"
        hostname = reader.string("hostname")
        sshAuthorizedKeys = reader.strings("ssh_authorized_keys").map(\.value)
        userData = reader.text("user_data")
        networkConfig = reader.object("network_config").map { config in
            let network = NetworkConfig(reader: config)
            config.finish()
            return network
        }
        metaData = reader.stringMap("meta_data")
    }

    /// The host name a guest called `name` gets when the spec gives none: lower case, with
    /// what a host name cannot hold ('_') made '-'.
    public static func hostname(forGuest name: String) -> String {
        let mapped = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
        let trimmed = mapped.split(separator: ".", omittingEmptySubsequences: true).map { label in
            String(label.prefix(63)).trimmingDashes
        }.filter { !$0.isEmpty }.joined(separator: ".")
        return trimmed.isEmpty ? "guest" : trimmed
    }

    /// RFC 1123: labels of 1 to 63 letters, digits and '-', not starting or ending with '-',
    /// joined by '.', 253 bytes at most.
    public static func isHostname(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.utf8.first != UInt8(ascii: "-")
                && label.utf8.last != UInt8(ascii: "-")
                && LibvirtFormats.consists(of: String(label), alphanumericsAnd: "-")
        }
    }

    /// A metadata key: a name of letters, digits, '_', '.' and '-' that is no path (no '/',
    /// not '.' or '..'), as it may become one in a guest's tools.
    static func isMetaDataKey(_ key: String) -> Bool {
        key.utf8.count <= maximumMetaDataBytes && key != "." && key != ".."
            && LibvirtFormats.consists(of: key, alphanumericsAnd: "_.-")
    }

    /// Every rule of the first-boot data, with pointers under `pointer` (`/spec/first_boot`).
    func refusals(pointer: String) -> [FieldError] {
        var errors: [FieldError] = []
        func fail(_ path: String, _ detail: String) { errors.append(FieldError(pointer: pointer + path, detail: detail)) }
        if let hostname, !Self.isHostname(hostname) {
            fail("/hostname", "must be a host name (RFC 1123): labels of letters, digits and '-' joined by '.', "
                 + "at most 253 bytes, got \(hostname.prefix(80))")
        }
        if sshAuthorizedKeys.count > Self.maximumKeys {
            fail("/ssh_authorized_keys", "must hold at most \(Self.maximumKeys) keys, got \(sshAuthorizedKeys.count)")
        }
        for (index, key) in sshAuthorizedKeys.enumerated() {
            if case .failure(let refusal) = SSHPublicKey.parse(key) { fail("/ssh_authorized_keys/\(index)", refusal.detail) }
        }
        if let userData {
            let bytes = userData.utf8.count
            if bytes > Self.maximumUserDataBytes {
                fail("/user_data", "must be at most \(Self.maximumUserDataBytes) bytes (Nova's limit), got \(bytes)")
            } else if CloudConfigYAML.isCloudConfig(userData), let problem = CloudConfigYAML.problem(in: userData) {
                fail("/user_data", "starts with #cloud-config but \(problem)")
            }
        }
        if metaData.count > Self.maximumMetaDataItems {
            fail("/meta_data", "must hold at most \(Self.maximumMetaDataItems) items, got \(metaData.count)")
        }
        for (key, value) in metaData.sorted(by: { $0.key < $1.key }) {
            let at = "/meta_data/" + ObjectReader.escape(key)
            if !Self.isMetaDataKey(key) {
                fail(at, "is a key that must be 1 to \(Self.maximumMetaDataBytes) letters, digits, '_', '.' and '-', "
                     + "and not '.' or '..'")
            } else if value.unicodeScalars.count > Self.maximumMetaDataBytes {
                fail(at, "must be at most \(Self.maximumMetaDataBytes) characters, got \(value.unicodeScalars.count)")
            }
        }
        if let networkConfig { errors += networkConfig.refusals(format: format, pointer: pointer + "/network_config") }
        return errors
    }
}

extension String {
    fileprivate var trimmingDashes: String {
        String(drop { $0 == "-" }.reversed().drop { $0 == "-" }.reversed())
    }
}
