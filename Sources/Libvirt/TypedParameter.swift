import CLibvirt

/// One `virTypedParameter`: a named value of one of libvirt's scalar types.
public struct TypedParameter: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case int(Int32), uint(UInt32), llong(Int64), ullong(UInt64), double(Double), boolean(Bool), string(String)

        /// The value as a number, where it is one.
        public var number: Double? {
            switch self {
            case .int(let value): Double(value)
            case .uint(let value): Double(value)
            case .llong(let value): Double(value)
            case .ullong(let value): Double(value)
            case .double(let value): value
            case .boolean(let value): value ? 1 : 0
            case .string: nil
            }
        }
    }

    public let field: String
    public let value: Value

    public init(field: String, value: Value) {
        self.field = field
        self.value = value
    }

    init(_ parameter: virTypedParameter) {
        var copy = parameter
        field = withUnsafeBytes(of: &copy.field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        switch Int32(parameter.type) {
        case Int32(VIR_TYPED_PARAM_INT.rawValue): value = .int(parameter.value.i)
        case Int32(VIR_TYPED_PARAM_UINT.rawValue): value = .uint(parameter.value.ui)
        case Int32(VIR_TYPED_PARAM_LLONG.rawValue): value = .llong(parameter.value.l)
        case Int32(VIR_TYPED_PARAM_ULLONG.rawValue): value = .ullong(parameter.value.ul)
        case Int32(VIR_TYPED_PARAM_DOUBLE.rawValue): value = .double(parameter.value.d)
        case Int32(VIR_TYPED_PARAM_BOOLEAN.rawValue): value = .boolean(parameter.value.b != 0)
        default: value = .string(parameter.value.s.map { String(cString: $0) } ?? "")
        }
    }

    /// Copies `count` parameters starting at `pointer`.
    static func array(_ pointer: UnsafePointer<virTypedParameter>?, count: Int) -> [TypedParameter] {
        guard let pointer, count > 0 else { return [] }
        return (0..<count).map { TypedParameter(pointer[$0]) }
    }
}

extension Array where Element == TypedParameter {
    /// The first parameter named `field`.
    public subscript(field: String) -> TypedParameter.Value? {
        first { $0.field == field }?.value
    }
}
