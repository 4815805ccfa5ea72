import GuestConfig

/// Guest network interfaces (Nova's VIF driver), given the Host rather than a callback into a
/// driver: before a guest is defined, what each interface attaches to must exist.
public struct VIF: Sendable {
    public let host: Host

    public init(host: Host) { self.host = host }

    /// A field error for each interface whose bridge, network or host device is missing (or,
    /// for a libvirt network, not active). `pointer` is where the list sits (`/spec/interfaces`).
    public func check(_ interfaces: [InterfaceSpec], pointer: String) async throws(HostError) -> [FieldError] {
        var errors: [FieldError] = []
        for (index, interface) in interfaces.enumerated() {
            let at = "\(pointer)/\(index)/source"
            switch interface.type ?? "network" {
            case "network":
                let name = interface.source ?? "default"
                switch try await host.networkIsActive(name) {
                case nil: errors.append(FieldError(pointer: at, detail: "libvirt has no network named \(name)"))
                case false?: errors.append(FieldError(pointer: at, detail: "the libvirt network \(name) is not active"))
                case true?: break
                }
            case "bridge", "direct":
                guard let name = interface.source else { continue }  // a field error already
                if try await !host.hostInterfaceExists(name) {
                    let what = interface.type == "bridge" ? "bridge" : "device"
                    errors.append(FieldError(pointer: at, detail: "the host has no \(what) named \(name)"))
                }
            default:
                break  // ethernet makes its own tap; a vhost-user socket is the switch's to create
            }
        }
        return errors
    }
}
