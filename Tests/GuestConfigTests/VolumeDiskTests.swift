@testable import GuestConfig
import GuestSpecOracle
import Testing
import TestSupport

/// `volume` disks and the storage roles the service makes: read, resolved, rendered and
/// refused with field pointers, with no host involved.
@Suite(.paced) struct VolumeDiskTests {
    static func definition(_ json: String, pool: String? = nil) throws -> GuestDefinition {
        var spec = try GuestSpec.parse(json: Array(json.utf8))
        if let pool { spec = ManagedVolumes.resolve(spec, pool: pool) }
        return try GuestDefinition(spec)
    }

    static func pointers(_ json: String) -> [String] {
        do {
            _ = try definition(json)
            return []
        } catch let error as GuestSpecError { return error.errors.map(\.pointer).sorted() } catch { return ["\(error)"] }
    }

    @Test func aVolumeDiskRendersAsLibvirtsVolumeSource() throws {
        let definition = try Self.definition(#"""
            {"name":"g","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":64,"disks":[{"type":"volume","source":{"pool":"images","volume":"a b.iso"},
             "device":"cdrom"},{"type":"volume","source":{"pool":"images","volume":"data"},"format":"raw"}]}
            """#)
        let xml = GuestXML.xml(definition)
        let compact = xml.split(separator: "\n").map { $0.trimmingPrefix(while: { $0 == " " }) }.joined()
        #expect(compact.contains("<disk type='volume' device='cdrom'><driver name='qemu' type='raw'/><source pool='images' volume='a b.iso'/><target dev='sda' bus='sata'/>"), "\(xml)")
        #expect(compact.contains("<source pool='images' volume='data'/><target dev='vda' bus='virtio'/>"))
        // No type: a source with a pool is a volume.
        let untyped = try Self.definition(#"{"name":"g","memory_mb":64,"disks":[{"source":{"pool":"p","volume":"v"}}]}"#)
        #expect(untyped.disks.map(\.type) == ["volume"])
        #expect(GuestXML.xml(untyped).contains("<source pool='p' volume='v'/>"))
        #expect(!xml.contains("<metadata>"), "the caller's volumes are not the service's")
        #expect(try GuestSpecOracle.verify(definition) >= 1)
    }

    @Test func managedRolesResolveToVolumesInTheInstancesPoolAndAreRecorded() throws {
        let json = #"""
            {"name":"web1","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":64,"storage":{"root":{"image":{"pool":"images","volume":"debian.qcow2"},"size_gb":20},
             "ephemeral":{"size_gb":5}}}
            """#
        let spec = try GuestSpec.parse(json: Array(json.utf8))
        let plan = ManagedVolumes.plan(spec, pool: "default")
        #expect(plan.map(\.name) == ["web1-root", "web1-ephemeral"])
        #expect(plan.map(\.pointer) == ["/storage/root", "/storage/ephemeral"])
        #expect(plan[0].image == VolumeReference(pool: "images", volume: "debian.qcow2"))
        #expect(plan[0].capacityBytes == 20 << 30)
        #expect(plan[1].image == nil && plan[1].capacityBytes == 5 << 30)

        let resolved = ManagedVolumes.resolve(spec, pool: "default")
        #expect(ManagedVolumes.plan(resolved, pool: "default") == plan)
        let definition = try GuestDefinition(resolved)
        let xml = GuestXML.xml(definition)
        let compact = xml.split(separator: "\n").map { $0.trimmingPrefix(while: { $0 == " " }) }.joined()
        #expect(compact.contains("<driver name='qemu' type='qcow2'/><source pool='default' volume='web1-root'/><target dev='vda'"), "\(xml)")
        #expect(compact.contains("<source pool='default' volume='web1-ephemeral'/><target dev='vdb'"))
        #expect(compact.contains("<metadata><virthost-volumes:volumes xmlns:virthost-volumes='https://virthost.dev/xmlns/volumes/1'><virthost-volumes:volume pool='default' name='web1-root'/><virthost-volumes:volume pool='default' name='web1-ephemeral'/></virthost-volumes:volumes></metadata>"), "\(xml)")
        #expect(try GuestSpecOracle.verify(definition) >= 1)
    }

    @Test func badVolumeDisksAndRolesAreFieldErrors() {
        let cases: [(String, [String])] = [
            (#"{"type":"volume"}"#, ["/disks/0/source"]),
            (#"{"type":"volume","source":{"pool":"p"}}"#, ["/disks/0/source/volume"]),
            (#"{"type":"volume","source":{"pool":"..","volume":"a/b"}}"#, ["/disks/0/source/pool", "/disks/0/source/volume"]),
            (#"{"type":"volume","source":{"pool":"p","volume":"v","extra":1}}"#, ["/disks/0/source/extra"]),
            (#"{"type":"volume","source":"/var/lib/libvirt/images/x"}"#, ["/disks/0/source"]),
            // Only storage roles are made by the service.
            (#"{"size_gb":5}"#, ["/disks/0/size_gb"]),
        ]
        for (disk, expected) in cases {
            let pointers = Self.pointers(#"{"name":"g","memory_mb":64,"disks":[\#(disk)]}"#)
            #expect(pointers == expected, "\(disk)")
        }
        let roles: [(String, [String])] = [
            (#"{"root":{"size_gb":0}}"#, ["/storage/root", "/storage/root/size_gb"]),
            (#"{"root":{"image":{"pool":"p"}}}"#, ["/storage/root/image/volume"]),
            (#"{"root":{"image":{"pool":"p","volume":"v"},"type":"file"}}"#, ["/storage/root/source", "/storage/root/type"]),
            (#"{"root":{"size_gb":1,"source":"/var/lib/libvirt/images/r"}}"#, ["/storage/root/source"]),
            // A volume of the caller's is no disk for the service to make.
            (#"{"root":{"type":"volume","source":{"pool":"p","volume":"v"},"size_gb":1}}"#, ["/storage/root/source"]),
            (#"{"ephemeral":[{"size_gb":1},{"size_gb":-1}]}"#, ["/storage/ephemeral/0", "/storage/ephemeral/1", "/storage/ephemeral/1/size_gb"]),
        ]
        for (storage, expected) in roles {
            let pointers = Self.pointers(#"{"name":"g","memory_mb":64,"storage":\#(storage)}"#)
            #expect(pointers == expected, "\(storage)")
        }
    }
}
