import Libvirt
import Testing
import TestSupport
import VirtHost

/// Nova's test_host.py version-check table: a host with libvirt 1.2.3 and hypervisor
/// QEMU 4.5.6.
@Suite(.paced) struct VersionCheckTests {
    struct Unreadable: Error {}

    func satisfied(_ check: VersionCheck, failing: Bool = false) -> Bool {
        check.isSatisfied(
            libvirtVersion: { if failing { throw Unreadable() }; return LibvirtVersion(major: 1, minor: 2, micro: 3) },
            hypervisorVersion: { LibvirtVersion(code: 4_005_006) },
            hypervisorType: { "QEMU" }
        )
    }

    static let v123 = LibvirtVersion(major: 1, minor: 2, micro: 3)
    static let v456 = LibvirtVersion(major: 4, minor: 5, micro: 6)

    @Test func minimumVersions() {
        #expect(satisfied(VersionCheck(libvirt: Self.v123)))
        #expect(satisfied(VersionCheck(libvirt: LibvirtVersion(major: 1, minor: 2, micro: 2))))
        #expect(!satisfied(VersionCheck(libvirt: LibvirtVersion(major: 1, minor: 3, micro: 3))))
        #expect(satisfied(VersionCheck(libvirt: Self.v123, hypervisor: Self.v456)))
        #expect(!satisfied(VersionCheck(libvirt: Self.v123, hypervisor: LibvirtVersion(major: 4, minor: 5, micro: 7))))
        #expect(satisfied(VersionCheck(libvirt: Self.v123, hypervisor: Self.v456, hypervisorType: "QEMU")))
        #expect(!satisfied(VersionCheck(libvirt: Self.v123, hypervisor: Self.v456, hypervisorType: "dummyhypervisor")))
    }

    @Test func nilPartsAreSkipped() {
        #expect(satisfied(VersionCheck()))
        #expect(satisfied(VersionCheck(hypervisor: Self.v456)))
        #expect(satisfied(VersionCheck(hypervisorType: "QEMU")))
        #expect(!satisfied(VersionCheck(hypervisorType: "TEST")))
    }

    @Test func exactVersions() {
        #expect(satisfied(VersionCheck(libvirt: Self.v123, comparison: .exact)))
        #expect(satisfied(VersionCheck(libvirt: Self.v123, hypervisor: Self.v456, hypervisorType: "QEMU",
                                       comparison: .exact)))
        // Off by one in any part, either way, fails.
        for wrong in [(1, 2, 2), (1, 2, 4), (1, 1, 3), (1, 3, 3), (0, 2, 3), (2, 2, 3)] {
            let version = LibvirtVersion(major: wrong.0, minor: wrong.1, micro: wrong.2)
            #expect(!satisfied(VersionCheck(libvirt: version, comparison: .exact)), "libvirt \(version)")
        }
        for wrong in [(4, 5, 5), (4, 5, 7), (4, 4, 6), (4, 6, 6), (3, 5, 6), (5, 5, 6)] {
            let version = LibvirtVersion(major: wrong.0, minor: wrong.1, micro: wrong.2)
            #expect(!satisfied(VersionCheck(libvirt: Self.v123, hypervisor: version, comparison: .exact)),
                    "hypervisor \(version)")
        }
        #expect(!satisfied(VersionCheck(libvirt: Self.v123, hypervisor: Self.v456, hypervisorType: "Xen",
                                        comparison: .exact)))
    }

    @Test func aFailureToReadIsFalse() {
        #expect(!satisfied(VersionCheck(libvirt: Self.v123), failing: true))
        // Values that are not asked for are not read, so their failure does not matter.
        #expect(satisfied(VersionCheck(hypervisor: Self.v456), failing: true))
    }
}
