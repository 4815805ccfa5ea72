import Libvirt

extension Guest {
    /// A screenshot is a few MiB at most; more is no display's.
    static let maximumScreenshotBytes = 3 * PNGImage.maximumSide * PNGImage.maximumSide / 4

    /// The running domain's display as PNG. The image comes through a stream
    /// (`virDomainScreenshot`), read on a dedicated connection and thread: the Host's own
    /// thread stays free while QEMU writes it and it is encoded. libvirt's test driver is the
    /// exception: it lives inside the process, each connection with a world of its own (a new
    /// one would not have the domain), and its screenshot is a small fixed PNG, so it is read
    /// on the Host's connection.
    public func screenshotPNG() async throws(HostError) -> [UInt8] {
        let uuid = uuid
        if host.configuration.uri.hasPrefix("test:") {
            return try await host.run { host throws(HostError) in
                try host.withConnection { try Self.screenshotPNG(uuid, on: $0) }
            }
        }
        return try await host.withDedicatedConnection(threadName: "virthost-screenshot") {
            try Self.screenshotPNG(uuid, on: $0)
        }
    }

    private static func screenshotPNG(_ uuid: String, on connection: Connection) throws -> [UInt8] {
        let domain: Domain
        do { domain = try connection.lookupDomain(uuid: uuid) } catch let error as LibvirtError where error.isNoDomain {
            throw HostError.domainNotFound(uuid)
        }
        guard try domain.isActive() else {
            throw HostError.invalidState(action: "take a screenshot of", state: try domain.state().state.description)
        }
        let stream = try DataStream(connection: connection, nonBlocking: false)
        let type = try domain.screenshot(into: stream)
        var bytes: [UInt8] = []
        receiving: while true {
            switch try stream.receive(max: 256 * 1024) {
            case .bytes(let chunk):
                bytes += chunk
                if bytes.count > maximumScreenshotBytes {
                    stream.abort()
                    throw HostError.unreadable("the screenshot is larger than \(maximumScreenshotBytes) bytes")
                }
            case .wouldBlock:
                continue
            case .end:
                break receiving
            }
        }
        try stream.finishReceiving()
        // QEMU 7.1 and later write PNG themselves (libvirt asks for it where QEMU can); older
        // ones, and other drivers, PPM.
        if type == "image/png", bytes.starts(with: PNGImage.signature) { return bytes }
        do {
            return try PNGImage.png(try PNGImage.pixmap(ppm: bytes))
        } catch {
            throw HostError.unreadable("\(type): \(error)")
        }
    }
}
