import Foundation
import GuestConfig

extension GuestSpecOracle {
    /// An accepted first-boot disk holds only the files of its format, under fixed names; its
    /// metadata and network files are JSON that Foundation's parser (not the writer's own
    /// code) reads back to the spec's values; its user data is the spec's, byte for byte; and
    /// together they stay under the limit.
    static func checkFirstBoot(_ definition: GuestDefinition) throws(Violation) {
        guard let firstBoot = definition.spec.firstBoot else { return }
        let files = FirstBootFiles(firstBoot, name: definition.spec.name, uuid: definition.uuid, macs: definition.macs)
        let isConfigDrive = firstBoot.format == "config-drive"
        guard files.label == (isConfigDrive ? "config-2" : "cidata") else { throw Violation("first-boot label \(files.label)") }
        guard files.totalBytes <= FirstBootSpec.maximumTotalBytes else {
            throw Violation("first-boot files of \(files.totalBytes) bytes were accepted")
        }
        let directories = ["openstack/latest/", "openstack/\(FirstBootFiles.openStackVersion)/"]
        let allowed = isConfigDrive
            ? Set(directories.flatMap { directory in ["meta_data.json", "user_data", "network_data.json"].map { directory + $0 } })
            : ["meta-data", "user-data", "network-config"]
        for file in files.files {
            guard allowed.contains(file.path) else { throw Violation("first-boot file \(file.path.debugDescription)") }
            if file.path.hasSuffix("user_data") || file.path == "user-data" {
                let expected = firstBoot.userData ?? FirstBootFiles.emptyCloudConfig
                guard file.content == Array(expected.utf8) else { throw Violation("user data changed on its way to \(file.path)") }
                continue
            }
            let object: [String: Any]
            do {
                guard let parsed = try JSONSerialization.jsonObject(with: Data(file.content)) as? [String: Any] else {
                    throw Violation("\(file.path) is not a JSON object")
                }
                object = parsed
            } catch {
                throw Violation("\(file.path) does not parse as JSON: \(error)")
            }
            if file.path.hasSuffix("meta_data.json") || file.path == "meta-data" {
                let id = object[isConfigDrive ? "uuid" : "instance-id"] as? String
                let meta = object["meta"] as? [String: String] ?? [:]
                guard id == definition.uuid, meta == firstBoot.metaData else {
                    throw Violation("\(file.path) does not carry the spec's UUID and metadata")
                }
            }
        }
    }
}
