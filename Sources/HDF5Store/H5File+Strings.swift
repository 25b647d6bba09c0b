internal import CHDF5
import Foundation

extension H5File {
    /// Writes a 1-D dataset of variable-length UTF-8 strings (class names, attribute
    /// names, source files), readable as `str` from h5py.
    public func writeStrings(_ name: String, _ strings: [String]) throws {
        let object = Self.absolute(name)
        try H5Library.locked {
            let type = try makeStringType(object: object)
            let space = try makeSpace([strings.count], max: [strings.count], object: object)
            let lcpl = try intermediateGroupsPropertyList()
            guard !exists(object) else { throw H5Error(file: path, object: object, message: "already exists") }
            let dataset = try H5Library.check(H5Dcreate2(id, object, type.id, space.id, lcpl.id, h5s_P_DEFAULT(), h5s_P_DEFAULT()),
                                              file: path, object: object, "cannot create the string dataset")
            defer { H5Dclose(dataset) }
            guard !strings.isEmpty else { return }
            try withCStrings(strings) { pointers in
                try H5Library.check(H5Dwrite(dataset, type.id, h5s_S_ALL(), h5s_S_ALL(), h5s_P_DEFAULT(), pointers),
                                    file: path, object: object, "cannot write the strings")
            }
        }
    }

    /// Reads a 1-D dataset of strings, variable- or fixed-length (as h5py may write either).
    public func readStrings(_ name: String) throws -> [String] {
        try withDataset(name) { dataset, object in
            let fileType = try H5Library.check(H5Dget_type(dataset), file: path, object: object, "cannot read the datatype")
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_STRING else {
                throw H5Error(file: path, object: object, message: "expected string data, found \(H5DType(type: fileType))")
            }
            let shape = try dims(of: dataset, object: object)
            guard shape.count <= 1 else {
                throw H5Error(file: path, object: object, message: "expected a 1-D string array, found shape \(shape)")
            }
            let count = shape.first ?? 1
            guard count > 0 else { return [] }
            // Pointers for variable-length strings, `size` bytes each for fixed-length ones.
            _ = try checkedCount([count], elementSize: max(H5Tget_size(fileType), MemoryLayout<UnsafeRawPointer>.stride),
                                 object: object)
            let space = try H5Library.check(H5Dget_space(dataset), file: path, object: object, "cannot read the dataspace")
            defer { H5Sclose(space) }
            if try H5Library.truth(H5Tis_variable_str(fileType), file: path, object: object, "cannot inspect the string type") {
                let memoryType = try makeStringType(object: object)
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                try H5Library.check(H5Dread(dataset, memoryType.id, h5s_S_ALL(), h5s_S_ALL(), h5s_P_DEFAULT(), &pointers),
                                    file: path, object: object, "cannot read the strings")
                let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
                H5Dvlen_reclaim(memoryType.id, space, h5s_P_DEFAULT(), &pointers)
                return strings
            } else {
                let size = H5Tget_size(fileType)
                let memoryType = H5Tcopy(h5s_T_C_S1())
                defer { H5Tclose(memoryType) }
                H5Tset_size(memoryType, size)
                var bytes = [UInt8](repeating: 0, count: size * count)
                try H5Library.check(H5Dread(dataset, memoryType, h5s_S_ALL(), h5s_S_ALL(), h5s_P_DEFAULT(), &bytes),
                                    file: path, object: object, "cannot read the strings")
                return (0..<count).map { index in
                    let slice = bytes[(index * size)..<((index + 1) * size)]
                    let end = slice.firstIndex(of: 0) ?? slice.endIndex
                    return String(decoding: slice[slice.startIndex..<end], as: UTF8.self)
                        .trimmingCharacters(in: .whitespaces)
                }
            }
        }
    }

    /// A variable-length UTF-8 string type.
    func makeStringType(object: String) throws -> H5Handle {
        let type = try H5Library.check(H5Tcopy(h5s_T_C_S1()), file: path, object: object, "cannot create a string type")
        let handle = H5Handle(type) { H5Tclose($0) }
        try H5Library.check(H5Tset_size(type, h5s_T_VARIABLE()), file: path, object: object, "cannot set the string size")
        try H5Library.check(H5Tset_cset(type, H5T_CSET_UTF8), file: path, object: object, "cannot set UTF-8")
        return handle
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings`, freed afterwards.
func withCStrings<R>(_ strings: [String], _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return try pointers.withUnsafeBufferPointer { try body(UnsafeRawPointer($0.baseAddress!)) }
}
