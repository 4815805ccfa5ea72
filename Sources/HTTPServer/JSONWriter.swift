import FoundationEssentials
import Glibc

/// The service's JSON: the bytes `JSONEncoder` writes with `[.sortedKeys, .withoutEscapingSlashes]`
/// and `.iso8601` dates, written straight into one buffer. Foundation's encoder builds a tree of
/// boxed values, sorts each object's dictionary and formats numbers through strings; for a list
/// of a thousand domains that was 40% of the request.
///
/// Members are written as they are encoded; when an object closes, they are put in key order
/// (each object type's order is found once per document). Anything the writer does not follow
/// (a container used after its parent moved on, `superEncoder`, a key encoded twice) makes it
/// give up, and Foundation's encoder writes that value instead, so the bytes never differ.
public enum JSONWriter {
    /// `value` as compact JSON with sorted keys.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONWriterEncoder()
        do {
            try encoder.writeDocument(value)
            return encoder.bytes
        } catch is JSONWriterEncoder.Unsupported {
            return Array(try foundationEncoder().encode(value))
        }
    }

    /// The encoder whose bytes this writer reproduces, for what it does not handle itself.
    static func foundationEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

/// One document being written. Containers are frames on a stack over one byte buffer: a
/// frame closes when the value that opened it returns, or when its parent writes its next
/// member.
///
/// The state lives behind a pointer, not in stored properties: Swift checks every access to a
/// class's stored property for exclusivity at run time, and those checks were a fifth of the
/// writer's time. It is safe: an encoder is used by one thread for one document, and the
/// state's mutating methods never call out to an `encode(to:)`, so no two accesses overlap.
final class JSONWriterEncoder: Encoder {
    /// An encoding the writer does not follow; ``JSONWriter`` hands the value to Foundation.
    struct Unsupported: Error {}

    let state: UnsafeMutablePointer<JSONWriterState>

    init() {
        state = .allocate(capacity: 1)
        state.initialize(to: JSONWriterState())
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    var bytes: [UInt8] { state.pointee.bytes }
    var codingPath: [any CodingKey] { state.pointee.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func writeDocument<T: Encodable>(_ value: T) throws {
        try writeValue(value)
        if state.pointee.failed || !state.pointee.frames.isEmpty { throw Unsupported() }
    }

    // MARK: Values

    func writeValue<T: Encodable>(_ value: T) throws {
        // JSONEncoder writes these four its own way, not through their `encode(to:)`.
        if T.self == Date.self {
            try state.pointee.writeDate(value as! Date)
            return
        }
        if T.self == Data.self {
            state.pointee.writeString((value as! Data).base64EncodedString())
            return
        }
        if T.self == URL.self {
            state.pointee.writeString((value as! URL).absoluteString)
            return
        }
        if T.self == Decimal.self {
            state.pointee.writeASCII((value as! Decimal).description)
            return
        }
        let frameCount = state.pointee.frames.count
        state.pointee.valueDepth += 1
        state.pointee.slotOpen = true
        defer { state.pointee.valueDepth -= 1 }
        try value.encode(to: self)
        try state.pointee.closeFrames(downTo: frameCount)
        state.pointee.closeEmptySlot()
    }

    func writeValue<T: Encodable>(_ value: T, at key: some CodingKey) throws {
        state.pointee.codingPath.append(key)
        defer { state.pointee.codingPath.removeLast() }
        try writeValue(value)
    }

    // MARK: Containers

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(JSONWriterKeyedContainer<Key>(encoder: self, frame: state.pointee.objectFrame(keyType: Key.self)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        JSONWriterUnkeyedContainer(encoder: self, frame: state.pointee.arrayFrame())
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONWriterSingleValueContainer(encoder: self)
    }
}

/// What a ``JSONWriterEncoder`` has written and which containers are open.
struct JSONWriterState {
    var bytes: [UInt8] = []
    var codingPath: [any CodingKey] = []

    struct Frame {
        var isObject: Bool
        /// Tells a live container from one whose frame has closed.
        var serial: Int
        /// Where this object's members start in `members`.
        var memberBase: Int
        var count = 0
        /// The value (by nesting depth) that opened it; -1 for nested containers.
        var valueDepth: Int
        /// The object's key type, whose member order is found once per document.
        var keyType: ObjectIdentifier?
    }

    struct Member {
        var key: String
        /// Offset of the member's key in `bytes`.
        var start: Int
    }

    /// An object type's member order: its keys in encoding order and their sorted permutation.
    struct KeyOrder {
        var keyType: ObjectIdentifier
        var keys: [String]
        var order: [Int]
    }

    var frames: [Frame] = []
    var members: [Member] = []
    var nextSerial = 0
    var valueDepth = 0
    /// A value was asked for and nothing is written for it yet.
    var slotOpen = false
    var failed = false
    /// A document has a few object types: a list beats a dictionary here.
    var orders: [KeyOrder] = []
    var scratch: [UInt8] = []

    init() {
        bytes.reserveCapacity(1024)
    }

    typealias FrameReference = (index: Int, serial: Int)
    static let noFrame: FrameReference = (-1, -1)

    /// Takes the open slot for a scalar; throws (and the writer gives up) if there is none.
    mutating func takeSlot() throws {
        guard slotOpen, !failed else { throw fail() }
        slotOpen = false
    }

    /// A value that encoded nothing is an empty object, as JSONEncoder writes it.
    mutating func closeEmptySlot() {
        guard slotOpen else { return }
        slotOpen = false
        bytes.append(UInt8(ascii: "{"))
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func fail() -> JSONWriterEncoder.Unsupported {
        failed = true
        return JSONWriterEncoder.Unsupported()
    }

    // MARK: Containers

    /// The object of the value being written: opened now, or the one already opened for it
    /// (a subclass and its superclass share it).
    mutating func objectFrame(keyType: Any.Type) -> FrameReference {
        if slotOpen {
            slotOpen = false
            return openFrame(object: true, keyType: keyType, valueDepth: valueDepth)
        }
        let depth = valueDepth
        if let index = frames.lastIndex(where: { $0.isObject && $0.valueDepth == depth }) {
            frames[index].keyType = nil
            return (index, frames[index].serial)
        }
        failed = true
        return Self.noFrame
    }

    mutating func arrayFrame() -> FrameReference {
        guard slotOpen else {
            failed = true
            return Self.noFrame
        }
        slotOpen = false
        return openFrame(object: false, keyType: nil, valueDepth: valueDepth)
    }

    mutating func openFrame(object: Bool, keyType: Any.Type?, valueDepth: Int) -> FrameReference {
        nextSerial += 1
        frames.append(Frame(isObject: object, serial: nextSerial, memberBase: members.count, valueDepth: valueDepth,
                            keyType: keyType.map(ObjectIdentifier.init)))
        bytes.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        return (frames.count - 1, nextSerial)
    }

    /// Makes `frame` the innermost open container (closing those inside it) and starts its
    /// next element: the comma, and for an object the key.
    mutating func beginElement(_ frame: FrameReference, key: String?) throws {
        guard !failed, frame.index >= 0, frame.index < frames.count, frames[frame.index].serial == frame.serial else {
            throw fail()
        }
        if frames.count > frame.index + 1 { try closeFrames(downTo: frame.index + 1) }
        if frames[frame.index].count > 0 { bytes.append(UInt8(ascii: ",")) }
        frames[frame.index].count += 1
        if let key {
            members.append(Member(key: key, start: bytes.count))
            writeString(key)
            bytes.append(UInt8(ascii: ":"))
        }
    }

    mutating func closeFrames(downTo count: Int) throws {
        while frames.count > count {
            let frame = frames.removeLast()
            if frame.isObject {
                try sortMembers(of: frame)
                members.removeSubrange(frame.memberBase...)
                bytes.append(UInt8(ascii: "}"))
            } else {
                bytes.append(UInt8(ascii: "]"))
            }
        }
    }

    /// Puts the object's members, written in encoding order, in key order.
    mutating func sortMembers(of frame: Frame) throws {
        let base = frame.memberBase
        let count = members.count - base
        guard count > 1 else { return }
        let order: [Int]
        if let keyType = frame.keyType, let known = orders.first(where: { $0.keyType == keyType }),
           known.keys.count == count, known.keys.indices.allSatisfy({ known.keys[$0] == members[base + $0].key }) {
            order = known.order
        } else {
            let keys = members[base...].map(\.key)
            order = try Self.sortedOrder(of: keys)
            if let keyType = frame.keyType {
                orders.removeAll { $0.keyType == keyType }
                orders.append(KeyOrder(keyType: keyType, keys: keys, order: order))
            }
        }
        if order.elementsEqual(0..<count) { return }
        let start = members[base].start
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: bytes[start...])
        bytes.removeSubrange(start...)
        for (position, index) in order.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            let from = members[base + index].start - start
            // A member ends at the comma before the next one, the last at the end.
            let to = index == count - 1 ? scratch.count : members[base + index + 1].start - start - 1
            bytes.append(contentsOf: scratch[from..<to])
        }
    }

    /// The permutation that sorts `keys` by their UTF-8 bytes, as JSONEncoder sorts them.
    static func sortedOrder(of keys: [String]) throws -> [Int] {
        let order = keys.indices.sorted { utf8Less(keys[$0], keys[$1]) }
        for position in order.indices.dropFirst() where !utf8Less(keys[order[position - 1]], keys[order[position]]) {
            // The same key twice: JSONEncoder keeps the last; leave that to it.
            throw JSONWriterEncoder.Unsupported()
        }
        return order
    }

    static func utf8Less(_ left: String, _ right: String) -> Bool {
        var left = left, right = right
        return left.withUTF8 { a in
            right.withUTF8 { b in
                let common = min(a.count, b.count)
                if common > 0, let x = a.baseAddress, let y = b.baseAddress {
                    let order = memcmp(x, y, common)
                    if order != 0 { return order < 0 }
                }
                return a.count < b.count
            }
        }
    }

    // MARK: Scalars

    mutating func writeNull() { writeASCII("null") }

    mutating func writeBool(_ value: Bool) { writeASCII(value ? "true" : "false") }

    mutating func writeASCII(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func writeASCII(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func writeInteger<T: BinaryInteger>(_ value: T) {
        if let small = Int64(exactly: value) {
            if small < 0 {
                bytes.append(UInt8(ascii: "-"))
                writeDigits(small.magnitude)
            } else {
                writeDigits(UInt64(small))
            }
        } else if let large = UInt64(exactly: value) {
            writeDigits(large)
        } else {
            writeASCII(String(value))
        }
    }

    mutating func writeDigits(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var value = value
            var index = 20
            repeat {
                index -= 1
                digits[index] = UInt8(ascii: "0") &+ UInt8(value % 10)
                value /= 10
            } while value > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[index...]))
        }
    }

    /// Swift's shortest round-trip form without a trailing `.0`, as JSONEncoder writes it;
    /// NaN and the infinities are an error, as there.
    mutating func writeFloat<T: BinaryFloatingPoint & CustomStringConvertible>(_ value: T) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, EncodingError.Context(
                codingPath: codingPath, debugDescription: "Unable to encode \(value) directly in JSON."))
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        writeASCII(text)
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func writeString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") { continue }
                if index > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                runStart = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0x0F)]])
                }
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// ISO 8601 in UTC to the second (`2026-11-24T20:12:36Z`), as `Date.ISO8601FormatStyle`
    /// writes it by default: the fraction of a second is dropped.
    mutating func writeDate(_ date: Date) throws {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        // 1583 to 9999 only; Foundation writes the others (its calendar is Julian before
        // October 1582).
        guard seconds >= -12_212_553_600, seconds < 253_402_300_800 else { throw fail() }
        let total = Int64(seconds)
        var days = total / 86_400
        var secondOfDay = total % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = Self.civilDate(daysSince1970: days)
        bytes.append(UInt8(ascii: "\""))
        writeFixed(year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        writeFixed(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        writeFixed(day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        writeFixed(secondOfDay / 3600, width: 2)
        bytes.append(UInt8(ascii: ":"))
        writeFixed(secondOfDay / 60 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        writeFixed(secondOfDay % 60, width: 2)
        bytes.append(UInt8(ascii: "Z"))
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func writeFixed(_ value: Int64, width: Int) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        var value = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(value / divisor))
            value %= divisor
            divisor /= 10
        }
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`).
    static func civilDate(daysSince1970: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSince1970 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
