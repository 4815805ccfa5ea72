import FoundationEssentials

/// An object being written by ``JSONWriterEncoder``: each member is its key then its value,
/// straight into the buffer.
struct JSONWriterKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: JSONWriterEncoder
    let frame: (index: Int, serial: Int)

    var codingPath: [any CodingKey] { encoder.codingPath }

    private func begin(_ key: Key) throws { try encoder.state.pointee.beginElement(frame, key: key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws { try begin(key); encoder.state.pointee.writeNull() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try begin(key); try encoder.state.pointee.writeFloat(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try begin(key); try encoder.state.pointee.writeFloat(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try begin(key); encoder.state.pointee.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try encoder.writeValue(value, at: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type,
                                                        forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        guard (try? begin(key)) != nil else {
            return KeyedEncodingContainer(JSONWriterKeyedContainer<NestedKey>(encoder: encoder, frame: (-1, -1)))
        }
        return KeyedEncodingContainer(JSONWriterKeyedContainer<NestedKey>(
            encoder: encoder, frame: encoder.state.pointee.openFrame(object: true, keyType: NestedKey.self, valueDepth: -1)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        guard (try? begin(key)) != nil else { return JSONWriterUnkeyedContainer(encoder: encoder, frame: (-1, -1)) }
        return JSONWriterUnkeyedContainer(encoder: encoder,
                                          frame: encoder.state.pointee.openFrame(object: false, keyType: nil, valueDepth: -1))
    }

    mutating func superEncoder() -> any Encoder { encoder.state.pointee.failed = true; return encoder }
    mutating func superEncoder(forKey key: Key) -> any Encoder { encoder.state.pointee.failed = true; return encoder }
}

/// An array being written by ``JSONWriterEncoder``.
struct JSONWriterUnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: JSONWriterEncoder
    let frame: (index: Int, serial: Int)
    private(set) var count = 0

    init(encoder: JSONWriterEncoder, frame: (index: Int, serial: Int)) {
        self.encoder = encoder
        self.frame = frame
    }

    var codingPath: [any CodingKey] { encoder.codingPath }

    private mutating func begin() throws {
        try encoder.state.pointee.beginElement(frame, key: nil)
        count += 1
    }

    mutating func encodeNil() throws { try begin(); encoder.state.pointee.writeNull() }
    mutating func encode(_ value: Bool) throws { try begin(); encoder.state.pointee.writeBool(value) }
    mutating func encode(_ value: String) throws { try begin(); encoder.state.pointee.writeString(value) }
    mutating func encode(_ value: Double) throws { try begin(); try encoder.state.pointee.writeFloat(value) }
    mutating func encode(_ value: Float) throws { try begin(); try encoder.state.pointee.writeFloat(value) }
    mutating func encode(_ value: Int) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { try begin(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { try begin(); encoder.state.pointee.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = count
        try begin()
        try encoder.writeValue(value, at: JSONWriterIndexKey(intValue: index))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey> {
        guard (try? begin()) != nil else {
            return KeyedEncodingContainer(JSONWriterKeyedContainer<NestedKey>(encoder: encoder, frame: (-1, -1)))
        }
        return KeyedEncodingContainer(JSONWriterKeyedContainer<NestedKey>(
            encoder: encoder, frame: encoder.state.pointee.openFrame(object: true, keyType: NestedKey.self, valueDepth: -1)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        guard (try? begin()) != nil else { return JSONWriterUnkeyedContainer(encoder: encoder, frame: (-1, -1)) }
        return JSONWriterUnkeyedContainer(encoder: encoder,
                                          frame: encoder.state.pointee.openFrame(object: false, keyType: nil, valueDepth: -1))
    }

    mutating func superEncoder() -> any Encoder { encoder.state.pointee.failed = true; return encoder }
}

/// The one value a ``JSONWriterEncoder`` slot holds.
struct JSONWriterSingleValueContainer: SingleValueEncodingContainer {
    let encoder: JSONWriterEncoder

    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeNull() }
    mutating func encode(_ value: Bool) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeBool(value) }
    mutating func encode(_ value: String) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeString(value) }
    mutating func encode(_ value: Double) throws { try encoder.state.pointee.takeSlot(); try encoder.state.pointee.writeFloat(value) }
    mutating func encode(_ value: Float) throws { try encoder.state.pointee.takeSlot(); try encoder.state.pointee.writeFloat(value) }
    mutating func encode(_ value: Int) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { try encoder.state.pointee.takeSlot(); encoder.state.pointee.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encoder.state.pointee.takeSlot()
        try encoder.writeValue(value)
    }
}

/// An array element's place in a coding path.
struct JSONWriterIndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }

    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { return nil }
}
