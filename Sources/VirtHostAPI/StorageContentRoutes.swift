import HTTPServer
import VirtHost

/// `/v1/storage/pools/{pool}/volumes/{volume}/content`: a volume's bytes, streamed in (`PUT`)
/// and out (`GET`, with `Range`). Both need `write`: the content is the guests' data.
struct StorageContentRoutes {
    let host: Host
    var transfer: VolumeTransfer { VolumeTransfer(host: host) }

    static let path = "/v1/storage/pools/{pool}/volumes/{volume}/content"

    func register(in router: inout Router) {
        // Any media type: an image is bytes, and `curl -T` sends none. No limit but the pool's space.
        router.add("PUT", Self.path, options: RouteOptions(access: .write, bodyLimit: Int.max, streamsBody: true)) {
            [transfer] request in
            let pool = try StorageRoutes.name(request, "pool")
            let volume = try StorageRoutes.name(request, "volume")
            let format = try request.choice("format", default: VolumeTransfer.Format.raw)
            let overwrite = try request.bool("overwrite", default: false)
            guard let body = request.bodyStream else { throw Problem.internalError("the route streams no body") }
            let length = try Self.contentLength(request)
            let placed = try await transfer.upload(pool: pool, volume: volume, format: format, overwrite: overwrite,
                                                   length: length, body: RequestBodyUpload(body: body))
            var response = Response.json(placed, status: 201)
            response.headers.add("Location", "/v1/storage/pools/\(pool)/volumes/\(volume)")
            return response
        }
        router.get(Self.path, options: RouteOptions(access: .write)) { [transfer] request in
            let pool = try StorageRoutes.name(request, "pool")
            let volume = try StorageRoutes.name(request, "volume")
            let size = try await transfer.size(pool: pool, volume: volume)
            var status = 200
            var offset: UInt64 = 0
            var length = size
            var headers: [(String, String)] = [("Accept-Ranges", "bytes")]
            switch ByteRange.parse(request.headers["Range"], size: size) {
            case .whole: break
            case .part(let first, let last):
                status = 206
                offset = first
                length = last - first + 1
                headers.append(("Content-Range", "bytes \(first)-\(last)/\(size)"))
            case .unsatisfiable:
                throw Problem(type: Problem.type(APIProblem.rangeNotSatisfiable), title: "Range Not Satisfiable",
                              status: 416, detail: "the volume has \(size) bytes; the range \(request.headers["Range"] ?? "") is outside them",
                              extensions: ["size_bytes": .int(Int(clamping: size))],
                              headers: [("Content-Range", "bytes */\(size)")])
            }
            guard length > 0 else {
                var empty = Response(status: status, contentType: "application/octet-stream", body: [])
                for (name, value) in headers { empty.headers.add(name, value) }
                return empty
            }
            let download = transfer.download(pool: pool, volume: volume, offset: offset, length: length)
            // A failure is logged by the download; the client sees the body cut short.
            return .stream(contentType: "application/octet-stream", status: status, headers: headers,
                           contentLength: length, highWater: VolumeDownload.highWater) { sink in
                try? await download.run(into: ResponseDownloadSink(sink: sink))
            }
        }
    }

    /// The body's announced length; nil when it is sent chunked.
    static func contentLength(_ request: Request) throws -> UInt64? {
        guard let text = request.headers["Content-Length"] else { return nil }
        guard let length = UInt64(text) else { throw Problem.badRequest("Content-Length must be a number, got \(text)") }
        return length
    }
}

/// A request's streamed body as an upload's source: read by the upload's own thread.
struct RequestBodyUpload: UploadSource {
    let body: RequestBodyStream

    func nextBlocking() throws -> [UInt8]? { try body.nextBlocking() }

    func recycle(_ piece: consuming [UInt8]) { body.recycle(consume piece) }
}

/// A response being sent as a download's sink: written by the download's own thread.
struct ResponseDownloadSink: DownloadSink {
    let sink: StreamSink

    func writeBlocking(_ piece: [UInt8]) -> Bool { sink.writeBlocking(piece) }

    func spare() -> [UInt8]? { sink.spare() }
}

/// A `Range: bytes=…` request header against a body of `size` bytes (RFC 9110 §14.1.2). One
/// range only: a list, or another unit, is ignored and the whole body sent, as the RFC allows.
enum ByteRange: Equatable {
    case whole
    /// First and last byte, inclusive, both within the body.
    case part(UInt64, UInt64)
    case unsatisfiable

    static func parse(_ header: String?, size: UInt64) -> ByteRange {
        guard let header else { return .whole }
        let value = header.trimmingCharacters(in: " \t")
        guard value.hasPrefix("bytes="), !value.contains(",") else { return .whole }
        let spec = value.dropFirst("bytes=".count).trimmingCharacters(in: " \t")
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let firstText = spec[..<dash], lastText = spec[spec.index(after: dash)...]
        if firstText.isEmpty {
            // A suffix: the last n bytes.
            guard let count = UInt64(lastText) else { return .whole }
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .part(size - min(count, size), size - 1)
        }
        guard let first = UInt64(firstText) else { return .whole }
        let last: UInt64
        if lastText.isEmpty {
            last = size &- 1
        } else {
            guard let value = UInt64(lastText) else { return .whole }
            guard value >= first else { return .unsatisfiable }
            last = min(value, size &- 1)
        }
        guard size > 0, first < size else { return .unsatisfiable }
        return .part(first, last)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in blanks: String) -> String {
        String(drop { blanks.contains($0) }.reversed().drop { blanks.contains($0) }.reversed())
    }
}

extension String {
    fileprivate func trimmingCharacters(in blanks: String) -> String { Substring(self).trimmingCharacters(in: blanks) }
}

extension VolumeTransferError: ProblemConvertible {
    public var problem: Problem {
        switch self {
        case .formatMismatch(let declared, let found):
            Problem(type: Problem.type(APIProblem.uploadFormatMismatch), title: "Upload Format Mismatch", status: 422,
                    detail: description, extensions: ["parameter": .string("format"), "declared": .string(declared),
                                                      "found": .string(found)])
        case .backingFileRefused(let path):
            Problem(type: Problem.type(APIProblem.uploadBackingFileRefused), title: "Backing File Refused", status: 422,
                    detail: description, extensions: ["backing_path": .string(path)])
        case .shortBody:
            .badRequest(description)
        case .shortVolume:
            .internalError(description)
        }
    }
}

extension APIProblem {
    static let rangeNotSatisfiable = "range-not-satisfiable"
    static let uploadFormatMismatch = "upload-format-mismatch"
    static let uploadBackingFileRefused = "upload-backing-file-refused"
}
