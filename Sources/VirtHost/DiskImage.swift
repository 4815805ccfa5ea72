import Glibc
import Libvirt

/// A disk image's size as Nova's libvirt driver reads it for `disk_available_least`, from the
/// file itself: allocation is the blocks the file occupies (`st_blocks` × 512); capacity is a
/// raw file's size, or a qcow2 image's virtual size from its header. These are the figures
/// libvirt gives for an inactive domain's disk; for a running one it would ask QEMU instead.
enum DiskImage {
    /// Nil when the file cannot be read here or its format is neither raw nor qcow2: the
    /// caller then asks libvirt.
    static func blockInfo(path: String, format: String?) -> BlockInfo? {
        guard format == "raw" || format == "qcow2" else { return nil }
        // Opened first and checked through the descriptor, non-blocking: a path swapped for a
        // FIFO or a device after a check could otherwise hold the Host's thread.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = UInt64(status.st_size)
        let allocation = UInt64(status.st_blocks) * 512
        if format == "raw" { return BlockInfo(capacity: size, allocation: allocation, physical: size) }
        guard let capacity = qcow2VirtualSize(descriptor) else { return nil }
        return BlockInfo(capacity: capacity, allocation: allocation, physical: size)
    }

    /// The virtual size in a qcow2 header: magic `QFI\xfb` at 0, the size as a big-endian
    /// 64-bit number at 24 (QEMU's docs/interop/qcow2.txt).
    static func qcow2VirtualSize(_ descriptor: Int32) -> UInt64? {
        var header = [UInt8](repeating: 0, count: 32)
        guard pread(descriptor, &header, header.count, 0) == header.count,
              header[0..<4].elementsEqual([0x51, 0x46, 0x49, 0xFB]) else { return nil }
        return header[24..<32].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
