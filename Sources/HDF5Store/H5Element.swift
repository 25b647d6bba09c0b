internal import CHDF5

/// Element types that datasets and attributes store.
public enum H5DType: Equatable, CustomStringConvertible {
    case float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64
    /// Variable- or fixed-length text.
    case string
    /// Anything else (compound, enum, opaque…), with HDF5's class name.
    case other(String)

    public var description: String {
        switch self {
        case .float32: "float32"
        case .float64: "float64"
        case .int8: "int8"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .uint8: "uint8"
        case .uint16: "uint16"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .string: "string"
        case .other(let name): name
        }
    }
}

/// A Swift scalar that maps to one HDF5 native type; reads require the stored type to
/// match exactly, so a float64 dataset is never silently narrowed into Float.
public protocol H5Element {
    /// The stored type this Swift type reads and writes.
    static var h5DType: H5DType { get }
    init()
}

extension Float: H5Element { public static var h5DType: H5DType { .float32 } }
extension Double: H5Element { public static var h5DType: H5DType { .float64 } }
extension Int32: H5Element { public static var h5DType: H5DType { .int32 } }
extension Int64: H5Element { public static var h5DType: H5DType { .int64 } }
extension UInt8: H5Element { public static var h5DType: H5DType { .uint8 } }

extension H5DType {
    /// The native memory type for element types that Swift code reads and writes.
    var nativeType: hid_t? {
        switch self {
        case .float32: h5s_T_NATIVE_FLOAT()
        case .float64: h5s_T_NATIVE_DOUBLE()
        case .int32: h5s_T_NATIVE_INT32()
        case .int64: h5s_T_NATIVE_INT64()
        case .uint8: h5s_T_NATIVE_UINT8()
        default: nil
        }
    }

    /// Classifies a stored datatype.
    init(type: hid_t) {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            self = size == 4 ? .float32 : size == 8 ? .float64 : .other("float\(size * 8)")
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, true): self = .int8
            case (2, true): self = .int16
            case (4, true): self = .int32
            case (8, true): self = .int64
            case (1, false): self = .uint8
            case (2, false): self = .uint16
            case (4, false): self = .uint32
            case (8, false): self = .uint64
            default: self = .other("int\(size * 8)")
            }
        case H5T_STRING: self = .string
        case H5T_COMPOUND: self = .other("compound")
        case H5T_ENUM: self = .other("enum")
        case H5T_OPAQUE: self = .other("opaque")
        case H5T_ARRAY: self = .other("array")
        case H5T_VLEN: self = .other("vlen")
        case H5T_REFERENCE: self = .other("reference")
        case H5T_BITFIELD: self = .other("bitfield")
        default: self = .other("unknown")
        }
    }
}

/// An N-dimensional array read from a dataset: row-major `data` with `shape`.
public struct H5Array<T: H5Element> {
    public var shape: [Int]
    public var data: [T]

    public init(shape: [Int], data: [T]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) elements")
        self.shape = shape
        self.data = data
    }
}
