internal import CHDF5
import Foundation

/// A value stored as an HDF5 attribute on a file, group or dataset.
public enum H5AttributeValue: Equatable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    case string(String)
    case ints([Int64])
    case doubles([Double])
    case strings([String])

    /// The value as an integer, if it is one (a one-element array counts).
    public var intValue: Int64? {
        switch self {
        case .int(let v): v
        case .ints(let v) where v.count == 1: v[0]
        default: nil
        }
    }

    /// The value as a double; integers convert.
    public var doubleValue: Double? {
        switch self {
        case .double(let v): v
        case .int(let v): Double(v)
        case .doubles(let v) where v.count == 1: v[0]
        case .ints(let v) where v.count == 1: Double(v[0])
        default: nil
        }
    }

    /// The value as text, if it is a string.
    public var stringValue: String? {
        switch self {
        case .string(let v): v
        case .strings(let v) where v.count == 1: v[0]
        default: nil
        }
    }

    /// The value as an array of doubles (scalars become one element; integers convert).
    public var doublesValue: [Double]? {
        switch self {
        case .double(let v): [v]
        case .int(let v): [Double(v)]
        case .doubles(let v): v
        case .ints(let v): v.map(Double.init)
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .int(let v): String(v)
        case .double(let v): String(v)
        case .string(let v): v
        case .ints(let v): "\(v)"
        case .doubles(let v): "\(v)"
        case .strings(let v): "\(v)"
        }
    }
}

extension H5File {
    /// Sets (or replaces) an attribute on the object at `object` (default: the root).
    public func setAttribute(_ name: String, _ value: H5AttributeValue, on object: String = "/") throws {
        let objectPath = Self.absolute(object)
        let where_ = "\(objectPath) @\(name)"
        try withObject(objectPath) { target in
            if try H5Library.truth(H5Aexists(target, name), file: path, object: where_, "cannot check the attribute") {
                try H5Library.check(H5Adelete(target, name), file: path, object: where_, "cannot replace the attribute")
            }
            func create(_ type: hid_t, _ dims: [Int]?, _ write: (hid_t) throws -> herr_t) throws {
                let space = try makeSpace(dims ?? [], max: dims ?? [], object: where_)
                let attribute = try H5Library.check(H5Acreate2(target, name, type, space.id, h5s_P_DEFAULT(), h5s_P_DEFAULT()),
                                                    file: path, object: where_, "cannot create the attribute")
                defer { H5Aclose(attribute) }
                try H5Library.check(try write(attribute), file: path, object: where_, "cannot write the attribute")
            }
            switch value {
            case .int(var v):
                try create(h5s_T_STD_I64LE(), nil) { H5Awrite($0, h5s_T_NATIVE_INT64(), &v) }
            case .double(var v):
                try create(h5s_T_IEEE_F64LE(), nil) { H5Awrite($0, h5s_T_NATIVE_DOUBLE(), &v) }
            case .ints(let v):
                try create(h5s_T_STD_I64LE(), [v.count]) { a in v.withUnsafeBytes { H5Awrite(a, h5s_T_NATIVE_INT64(), $0.baseAddress) } }
            case .doubles(let v):
                try create(h5s_T_IEEE_F64LE(), [v.count]) { a in v.withUnsafeBytes { H5Awrite(a, h5s_T_NATIVE_DOUBLE(), $0.baseAddress) } }
            case .string(let v):
                let type = try makeStringType(object: where_)
                try create(type.id, nil) { a in try withCStrings([v]) { H5Awrite(a, type.id, $0) } }
            case .strings(let v):
                let type = try makeStringType(object: where_)
                try create(type.id, [v.count]) { a in try withCStrings(v) { H5Awrite(a, type.id, $0) } }
            }
        }
    }

    /// Whether the object at `object` has an attribute `name`.
    public func hasAttribute(_ name: String, of object: String = "/") -> Bool {
        (try? withObject(Self.absolute(object)) { H5Aexists($0, name) > 0 }) ?? false
    }

    /// Names of the attributes of an object, in name order.
    public func attributeNames(of object: String = "/") throws -> [String] {
        let objectPath = Self.absolute(object)
        return try withObject(objectPath) { target in
            var info = H5O_info_t()
            try H5Library.check(H5Oget_info2(target, &info, UInt32(H5O_INFO_NUM_ATTRS)), file: path, object: objectPath,
                                "cannot read the object info")
            return try names(count: info.num_attrs, object: objectPath, "cannot list attributes") { index, buffer, size in
                H5Aget_name_by_idx(target, ".", H5_INDEX_NAME, H5_ITER_INC, index, buffer, size, h5s_P_DEFAULT())
            }
        }
    }

    /// Reads an attribute; integers come back as Int64, floats as Double, text as String,
    /// arrays of any of those as arrays. A missing attribute is an error naming it.
    public func attribute(_ name: String, of object: String = "/") throws -> H5AttributeValue {
        let objectPath = Self.absolute(object)
        let where_ = "\(objectPath) @\(name)"
        return try withObject(objectPath) { target in
            guard try H5Library.truth(H5Aexists(target, name), file: path, object: where_, "cannot check the attribute") else {
                throw H5Error(file: path, object: where_, message: "no such attribute")
            }
            let attribute = try H5Library.check(H5Aopen(target, name, h5s_P_DEFAULT()), file: path, object: where_,
                                                "cannot open the attribute")
            defer { H5Aclose(attribute) }
            let type = try H5Library.check(H5Aget_type(attribute), file: path, object: where_, "cannot read its type")
            defer { H5Tclose(type) }
            let space = try H5Library.check(H5Aget_space(attribute), file: path, object: where_, "cannot read its dataspace")
            defer { H5Sclose(space) }
            let isScalar = H5Sget_simple_extent_type(space) == H5S_SCALAR
            let count = Int(H5Sget_simple_extent_npoints(space))
            switch H5Tget_class(type) {
            case H5T_INTEGER:
                var values = [Int64](repeating: 0, count: count)
                try H5Library.check(H5Aread(attribute, h5s_T_NATIVE_INT64(), &values), file: path, object: where_, "cannot read")
                return isScalar ? .int(values[0]) : .ints(values)
            case H5T_FLOAT:
                var values = [Double](repeating: 0, count: count)
                try H5Library.check(H5Aread(attribute, h5s_T_NATIVE_DOUBLE(), &values), file: path, object: where_, "cannot read")
                return isScalar ? .double(values[0]) : .doubles(values)
            case H5T_STRING:
                let strings = try readAttributeStrings(attribute, type: type, space: space, count: count, object: where_)
                return isScalar ? .string(strings.first ?? "") : .strings(strings)
            default:
                throw H5Error(file: path, object: where_, message: "unsupported attribute type \(H5DType(type: type))")
            }
        }
    }

    private func readAttributeStrings(_ attribute: hid_t, type: hid_t, space: hid_t, count: Int, object: String) throws -> [String] {
        if try H5Library.truth(H5Tis_variable_str(type), file: path, object: object, "cannot inspect the string type") {
            let memoryType = try makeStringType(object: object)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try H5Library.check(H5Aread(attribute, memoryType.id, &pointers), file: path, object: object, "cannot read")
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            H5Dvlen_reclaim(memoryType.id, space, h5s_P_DEFAULT(), &pointers)
            return strings
        }
        let size = H5Tget_size(type)
        _ = try checkedCount([count], elementSize: size, object: object)
        let memoryType = H5Tcopy(h5s_T_C_S1())
        defer { H5Tclose(memoryType) }
        H5Tset_size(memoryType, size)
        var bytes = [UInt8](repeating: 0, count: size * count)
        try H5Library.check(H5Aread(attribute, memoryType, &bytes), file: path, object: object, "cannot read")
        return (0..<count).map { index in
            let slice = bytes[(index * size)..<((index + 1) * size)]
            let end = slice.firstIndex(of: 0) ?? slice.endIndex
            return String(decoding: slice[slice.startIndex..<end], as: UTF8.self)
        }
    }

    /// Opens any object (file root, group or dataset) for the duration of `body`.
    func withObject<R>(_ objectPath: String, _ body: (hid_t) throws -> R) throws -> R {
        guard objectPath == "/" || exists(objectPath) else {
            throw H5Error(file: path, object: objectPath, message: "no such object")
        }
        return try H5Library.locked {
            let object = try H5Library.check(H5Oopen(id, objectPath, h5s_P_DEFAULT()), file: path, object: objectPath,
                                             "cannot open the object")
            defer { H5Oclose(object) }
            return try body(object)
        }
    }
}
