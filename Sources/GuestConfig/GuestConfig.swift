/// Turns a guest spec into libvirt domain XML. Pure Swift: no libvirt, no HTTP.
/// The spec and its builders arrive with the guest-configuration issue.
public enum GuestConfig {}
