import CLibvirt
#if canImport(Glibc)
import Glibc
#endif

/// A domain's vCPUs and memory changed after creation (hot-plug and balloon).
extension Domain {
    /// Sets the vCPUs online (`virDomainSetVcpusFlags`), on the running domain, its
    /// definition, or both as `impact` says; at most the domain's maximum.
    public func setVCPUs(_ count: Int, _ impact: DomainModificationImpact) throws {
        _ = try LibvirtError.status("virDomainSetVcpusFlags") {
            virDomainSetVcpusFlags(handle, UInt32(clamping: count), impact.rawValue)
        }
    }

    /// Sets the memory the balloon gives the domain, in KiB (`virDomainSetMemoryFlags`); at
    /// most the domain's maximum (`<memory>`).
    public func setMemory(kibibytes: UInt64, _ impact: DomainModificationImpact) throws {
        _ = try LibvirtError.status("virDomainSetMemoryFlags") {
            virDomainSetMemoryFlags(handle, UInt(clamping: kibibytes), impact.rawValue)
        }
    }
}

/// Keys pressed on a domain's keyboard.
extension Domain {
    /// Presses `codes` (Linux key codes) together and releases them after `holdMilliseconds`
    /// (`virDomainSendKey`, `VIR_KEYCODE_SET_LINUX`; 0 is the hypervisor's default).
    public func sendKeys(linux codes: [UInt32], holdMilliseconds: UInt32) throws {
        var codes = codes
        _ = try LibvirtError.status("virDomainSendKey") {
            virDomainSendKey(handle, UInt32(VIR_KEYCODE_SET_LINUX.rawValue), holdMilliseconds, &codes,
                             Int32(codes.count), 0)
        }
    }
}

/// What a domain's display shows.
extension Domain {
    /// Starts a screenshot of `screen` into `stream` (`virDomainScreenshot`): the image's MIME
    /// type (QEMU gives `image/x-portable-pixmap`; the test driver, `image/png`). The bytes are
    /// then read from the stream until it ends.
    public func screenshot(into stream: DataStream, screen: UInt32 = 0) throws -> String {
        let type = try LibvirtError.call("virDomainScreenshot") { virDomainScreenshot(handle, stream.handle, screen, 0) }
        defer { free(type) }
        return String(cString: type)
    }
}

extension DataStream {
    /// Completes a stream read to its end (`virStreamFinish`), so an error the other end had
    /// meanwhile is seen.
    public func finishReceiving() throws {
        _ = try LibvirtError.status("virStreamFinish") { virStreamFinish(handle) }
    }
}
