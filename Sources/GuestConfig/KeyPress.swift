import FoundationEssentials

/// `POST /v1/domains/{ref}/send-key`: `{"keys": ["KEY_LEFTCTRL", "KEY_LEFTALT", "KEY_DELETE"],
/// "hold_ms": 100}`, keys pressed together and released after `hold_ms`.
public struct KeyPress: Sendable, Hashable {
    /// libvirt takes at most this many keys at once (`VIR_DOMAIN_SEND_KEY_MAX_KEYS`).
    public static let maximumKeys = 16
    /// Long enough for any chord; a longer hold is a stuck key.
    public static let holdRange = 0...10_000

    /// Linux key codes (``LinuxKeyCodes``), in the order given.
    public var codes: [UInt32]
    /// 0: the hypervisor's default.
    public var holdMilliseconds: Int

    /// Reads and checks the request; an unknown or repeated key name is an error at its index.
    public static func read(json data: some DataProtocol) throws(GuestSpecError) -> KeyPress {
        let errors = FieldErrors()
        let reader = try StorageRequest.reader(data, errors: errors)
        let keys = reader.array("keys")
        let hold = reader.int("hold_ms", in: holdRange)
        reader.finish()
        if !reader.has("keys") { errors.add("/keys", "is required") }
        if reader.has("keys"), keys.isEmpty || keys.count > maximumKeys {
            errors.add("/keys", "must hold 1 to \(maximumKeys) key names, got \(keys.count)")
        }
        if let hold, !holdRange.contains(hold) {
            errors.add("/hold_ms", "must be from \(holdRange.lowerBound) to \(holdRange.upperBound), got \(hold)")
        }
        var codes: [UInt32] = []
        var names = Set<String>()
        for (value, pointer) in keys {
            guard case .string(let name) = value else {
                errors.add(pointer, "must be a key name such as KEY_ENTER, got \(value.kind)")
                continue
            }
            if names.contains(name) {
                errors.add(pointer, "names \(name) a second time")
                continue
            }
            names.insert(name)
            guard let code = LinuxKeyCodes.byName[name] else {
                errors.add(pointer, "is not a Linux key name (KEY_A, KEY_ENTER, KEY_LEFTCTRL…)")
                continue
            }
            // Two aliases of one key press it once.
            if !codes.contains(code) { codes.append(code) }
        }
        guard errors.errors.isEmpty else { throw GuestSpecError(errors.errors) }
        return KeyPress(codes: codes, holdMilliseconds: hold ?? 0)
    }
}
