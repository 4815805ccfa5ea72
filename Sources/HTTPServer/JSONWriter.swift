import Foundation

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
final class JSONWriterEncoder: Encoder {
    /// An encoding the writer does not follow; ``JSONWriter`` hands the value to Foundation.
    struct Unsupported: Error {}

    var bytes: [UInt8] = []
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    struct Frame {
        var isObject: Bool
        /// Tells a live container from one whose frame has closed.
        var serial: Int
        /// Where this object's members start in `members`.
        var memberBase: Int
        var count = 0
        /// The value (by nesting depth) that opened it; -1 for nested containers.
        var valueDepth: Int
        /// The object's key type, whose member order is looked up once per document.
        var keyType: ObjectIdentifier?
    }

    struct Member {
        var key: String
        /// Offset of the member's key in `bytes`.
        var start: Int
    }

    var frames: [Frame] = []
    var members: [Member] = []
    var nextSerial = 0
    var valueDepth = 0
    /// A value was asked for and nothing is written for it yet.
    var slotOpen = false
    var failed = false
    /// Each object type's key order: the keys in encoding order and their sorted permutation.
    var orders: [ObjectIdentifier: (keys: [String], order: [Int])] = [:]
    var scratch: [UInt8] = []

    init() {
        bytes.reserveCapacity(1024)
    }

    func writeDocument<T: Encodable>(_ value: T) throws {
        try writeValue(value)
        if failed || !frames.isEmpty { throw Unsupported() }
    }

    // MARK: Values

    func writeValue<T: Encodable>(_ value: T) throws {
        // JSONEncoder writes these four its own way, not through their `encode(to:)`.
        if T.self == Date.self {
            try writeDate(value as! Date)
            return
        }
        if T.self == Data.self {
            writeString((value as! Data).base64EncodedString())
            return
        }
        if T.self == URL.self {
            writeString((value as! URL).absoluteString)
            return
        }
        if T.self == Decimal.self {
            writeASCII((value as! Decimal).description)
            return
        }
        let frameCount = frames.count
        valueDepth += 1
        slotOpen = true
        defer { valueDepth -= 1 }
        try value.encode(to: self)
        try closeFrames(downTo: frameCount)
        if slotOpen {
            // A value that encodes nothing is an empty object, as JSONEncoder writes it.
            slotOpen = false
            bytes.append(UInt8(ascii: "{"))
            bytes.append(UInt8(ascii: "}"))
        }
    }

    func writeValue<T: Encodable>(_ value: T, at key: some CodingKey) throws {
        codingPath.append(key)
        defer { codingPath.removeLast() }
        try writeValue(value)
    }

    /// Takes the open slot for a scalar; false (and the writer gives up) if there is none.
    func takeSlot() throws {
        guard slotOpen, !failed else { throw fail() }
        slotOpen = false
    }

    func fail() -> Unsupported {
        failed = true
        return Unsupported()
    }

    // MARK: Containers

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if slotOpen {
            slotOpen = false
            return KeyedEncodingContainer(JSONWriterKeyedContainer<Key>(encoder: self, frame: openFrame(object: true,
                                                                                                        keyType: Key.self,
                                                                                                        valueDepth: valueDepth)))
        }
        // A second request for the same value's object (a subclass and its superclass) shares it.
        if let index = frames.lastIndex(where: { $0.isObject && $0.valueDepth == valueDepth }) {
            frames[index].keyType = nil
            return KeyedEncodingContainer(JSONWriterKeyedContainer<Key>(encoder: self,
                                                                        frame: (index, frames[index].serial)))
        }
        failed = true
        return KeyedEncodingContainer(JSONWriterKeyedContainer<Key>(encoder: self, frame: (-1, -1)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        guard slotOpen else {
            failed = true
            return JSONWriterUnkeyedContainer(encoder: self, frame: (-1, -1))
        }
        slotOpen = false
        return JSONWriterUnkeyedContainer(encoder: self, frame: openFrame(object: false, keyType: nil,
                                                                          valueDepth: valueDepth))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONWriterSingleValueContainer(encoder: self)
    }

    func openFrame(object: Bool, keyType: Any.Type?, valueDepth: Int) -> (index: Int, serial: Int) {
        nextSerial += 1
        frames.append(Frame(isObject: object, serial: nextSerial, memberBase: members.count, valueDepth: valueDepth,
                            keyType: keyType.map(ObjectIdentifier.init)))
        bytes.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        return (frames.count - 1, nextSerial)
    }

    /// Makes `frame` the innermost open container (closing those inside it) and starts its
    /// next element: the comma, and for an object the key.
    func beginElement(_ frame: (index: Int, serial: Int), key: String?) throws {
        guard !failed, frame.index >= 0, frame.index < frames.count, frames[frame.index].serial == frame.serial else {
            throw fail()
        }
        try closeFrames(downTo: frame.index + 1)
        if frames[frame.index].count > 0 { bytes.append(UInt8(ascii: ",")) }
        frames[frame.index].count += 1
        if let key {
            members.append(Member(key: key, start: bytes.count))
            writeString(key)
            bytes.append(UInt8(ascii: ":"))
        }
    }

    func closeFrames(downTo count: Int) throws {
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
    func sortMembers(of frame: Frame) throws {
        let written = members[frame.memberBase...]
        guard written.count > 1 else { return }
        let order: [Int]
        if let keyType = frame.keyType, let known = orders[keyType], known.keys.elementsEqual(written.lazy.map(\.key)) {
            order = known.order
        } else {
            order = try Self.sortedOrder(of: written.map(\.key))
            if let keyType = frame.keyType { orders[keyType] = (written.map(\.key), order) }
        }
        if order.elementsEqual(0..<order.count) { return }
        let base = written.startIndex
        let start = written.first!.start
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: bytes[start...])
        bytes.removeSubrange(start...)
        let end = scratch.count + start
        for (position, index) in order.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            let from = members[base + index].start - start
            // A member ends at the comma before the next one, the last at the end.
            let to = index == order.count - 1 ? end - start : members[base + index + 1].start - start - 1
            bytes.append(contentsOf: scratch[from..<to])
        }
    }

    /// The permutation that sorts `keys` by their UTF-8 bytes, as JSONEncoder sorts them.
    static func sortedOrder(of keys: [String]) throws -> [Int] {
        let order = keys.indices.sorted { utf8Less(keys[$0], keys[$1]) }
        for position in order.indices.dropFirst() where !utf8Less(keys[order[position - 1]], keys[order[position]]) {
            // The same key twice: JSONEncoder keeps the last; leave that to it.
            throw Unsupported()
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

    func writeNull() { writeASCII("null") }

    func writeBool(_ value: Bool) { writeASCII(value ? "true" : "false") }

    func writeASCII(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func writeASCII(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    func writeInteger<T: BinaryInteger>(_ value: T) {
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

    func writeDigits(_ value: UInt64) {
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
    func writeFloat<T: BinaryFloatingPoint & CustomStringConvertible>(_ value: T) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, EncodingError.Context(
                codingPath: codingPath, debugDescription: "Unable to encode \(value) directly in JSON."))
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        writeASCII(text)
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    func writeString(_ string: String) {
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
    func writeDate(_ date: Date) throws {
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

    func writeFixed(_ value: Int64, width: Int) {
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
