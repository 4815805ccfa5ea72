import GuestConfig
import Libvirt

/// A guest's first-boot disk, given the Host: its files (``FirstBootFiles``) made into an
/// ISO 9660 image (``ISOImage``) and streamed into the volume `<name>-first-boot.iso` of the
/// instances pool, as one step of the guest's creation. The guest's definition lists the
/// volume among those the service made, so it goes with the guest (`?volumes=owned`).
public struct FirstBootDisk: Sendable {
    public let host: Host

    public init(host: Host) { self.host = host }

    /// The files a definition's first-boot disk holds; nil when it asks for none.
    public static func files(of definition: GuestDefinition) -> FirstBootFiles? {
        definition.spec.firstBoot.map { firstBoot in
            FirstBootFiles(firstBoot, name: definition.spec.name, uuid: definition.uuid, macs: definition.macs)
        }
    }

    /// Makes the first-boot volume of a resolved definition, registering its undo; nothing
    /// when it asks for none.
    func make(_ definition: GuestDefinition, undo: inout Undo) async throws {
        guard let files = Self.files(of: definition),
              let volume = ManagedVolumes.firstBootVolume(definition.spec) else { return }
        // The image is made before anything on the host, so a tool that fails leaves nothing.
        let image = try await ISOImage(configuration: host.configuration.isoImage)
            .make(label: files.label, files: files.files.map { ($0.path, $0.content) })
        try await GuestVolumes(host: host).ensurePool(volume.pool, undo: &undo)
        // The upload stages the bytes under a name of its own and removes them if it fails.
        _ = try await VolumeTransfer(host: host).upload(pool: volume.pool, volume: volume.volume, format: .iso,
                                                       overwrite: false, length: UInt64(image.count),
                                                       body: UploadBytes(image))
        undo.register("first-boot volume \(volume.pool)/\(volume.volume)") { [host] in
            (try? await host.deleteStorageVolume(pool: volume.pool, volume: volume.volume).get()) != nil
        }
        host.logger.info("first-boot disk made", metadata: [
            "domain": "\(definition.spec.name)", "volume": "\(volume.pool)/\(volume.volume)",
            "format": "\(definition.spec.firstBoot?.format ?? "")", "bytes": "\(image.count)",
        ])
    }
}
