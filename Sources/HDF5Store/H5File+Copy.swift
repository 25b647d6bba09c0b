internal import CHDF5
import Foundation

/// Copying between files in the stored representation (no conversion), for tools that
/// rebuild an artifact from pieces (merge-shards): values round-trip bit for bit.
extension H5File {
    /// Every group and dataset below `group`, as absolute paths, depth-first in name order.
    public func objects(below group: String = "/") throws -> [(path: String, isGroup: Bool)] {
        var result: [(String, Bool)] = []
        for name in try childNames(group) {
            let child = group == "/" ? "/" + name : Self.absolute(group) + "/" + name
            if isGroup(child) {
                result.append((child, true))
                result += try objects(below: child)
            } else {
                result.append((child, false))
            }
        }
        return result
    }

    /// Copies a dataset or group (attributes and children included) from `source` to the
    /// same path here, creating parent groups; the path must be free.
    public func copyObject(_ name: String, from source: H5File) throws {
        let object = Self.absolute(name)
        guard !exists(object) else { throw H5Error(file: path, object: object, message: "already exists") }
        try H5Library.locked {
            let lcpl = try intermediateGroupsPropertyList()
            try H5Library.check(H5Ocopy(source.id, object, id, object, h5s_P_DEFAULT(), lcpl.id), file: path, object: object,
                                "cannot copy from \(source.path)")
        }
    }

    /// Creates an empty dataset `name` with `rows` rows and otherwise the stored type, row
    /// shape, layout and filters of `name` in `source`. A dataset that could grow keeps an
    /// unlimited first dimension.
    public func createDataset(_ name: String, like source: H5File, rows: Int) throws {
        let object = Self.absolute(name)
        try source.withDataset(object) { template, _ in
            let type = try H5Library.check(H5Dget_type(template), file: source.path, object: object, "cannot read the datatype")
            defer { H5Tclose(type) }
            if try H5Library.truth(H5Tis_variable_str(type), file: source.path, object: object, "cannot inspect the type") {
                throw H5Error(file: source.path, object: object, message: "variable-length strings cannot be copied row by row")
            }
            let dcpl = try H5Library.check(H5Dget_create_plist(template), file: source.path, object: object,
                                           "cannot read the creation properties")
            defer { H5Pclose(dcpl) }
            let space = try H5Library.check(H5Dget_space(template), file: source.path, object: object, "cannot read the dataspace")
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank >= 1 else { throw H5Error(file: source.path, object: object, message: "a scalar has no rows") }
            var dims = [hsize_t](repeating: 0, count: rank), maxDims = [hsize_t](repeating: 0, count: rank)
            H5Sget_simple_extent_dims(space, &dims, &maxDims)
            dims[0] = hsize_t(rows)
            if maxDims[0] != h5s_S_UNLIMITED() { maxDims[0] = hsize_t(rows) }
            let newSpace = try H5Library.check(H5Screate_simple(Int32(rank), &dims, &maxDims), file: path, object: object,
                                               "cannot create a dataspace")
            defer { H5Sclose(newSpace) }
            guard !exists(object) else { throw H5Error(file: path, object: object, message: "already exists") }
            let lcpl = try intermediateGroupsPropertyList()
            let dataset = try H5Library.check(H5Dcreate2(id, object, type, newSpace, lcpl.id, dcpl, h5s_P_DEFAULT()),
                                              file: path, object: object, "cannot create the dataset")
            H5Dclose(dataset)
        }
    }

    /// Copies every row of `name` in `source` into rows `offset ..< offset + n` of `name`
    /// here, as stored bytes. Both datasets must have the same stored type and row shape.
    public func copyRows(_ name: String, from source: H5File, to offset: Int) throws {
        let object = Self.absolute(name)
        let (bytes, shape) = try source.storedRows(object)
        guard let count = shape.first else { throw H5Error(file: source.path, object: object, message: "a scalar has no rows") }
        guard count > 0 else { return }
        try withDataset(object) { dataset, _ in
            let target = try dims(of: dataset, object: object)
            guard Array(target.dropFirst()) == Array(shape.dropFirst()) else {
                throw H5Error(file: source.path, object: object,
                              message: "rows of shape \(Array(shape.dropFirst())), but \(path) has \(Array(target.dropFirst()))")
            }
            guard offset + count <= target[0] else {
                throw H5Error(file: path, object: object, message: "rows \(offset)..<\(offset + count) beyond its \(target[0]) rows")
            }
            let type = try H5Library.check(H5Dget_type(dataset), file: path, object: object, "cannot read the datatype")
            defer { H5Tclose(type) }
            let fileSpace = try H5Library.check(H5Dget_space(dataset), file: path, object: object, "cannot read the dataspace")
            defer { H5Sclose(fileSpace) }
            try selectRows(fileSpace, offset..<(offset + count), rank: shape.count, rowShape: Array(shape.dropFirst()), object: object)
            let memorySpace = try makeSpace(shape, max: shape, object: object)
            try bytes.withUnsafeBytes { buffer in
                try H5Library.check(H5Dwrite(dataset, type, memorySpace.id, fileSpace, h5s_P_DEFAULT(), buffer.baseAddress),
                                    file: path, object: object, "cannot write rows \(offset)..<\(offset + count)")
            }
        }
    }

    /// Whether dataset `name` holds the same stored type, shape and values here and in
    /// `other` (strings compared as text).
    public func sameContents(_ name: String, in other: H5File) throws -> Bool {
        let mine = try dtype(name), theirs = try other.dtype(name)
        guard mine == theirs, try shape(name) == other.shape(name) else { return false }
        if mine == .string { return try readStrings(name) == other.readStrings(name) }
        return try storedRows(name).bytes == other.storedRows(name).bytes
    }

    /// A whole dataset's values in its stored type, and its shape.
    func storedRows(_ name: String) throws -> (bytes: [UInt8], shape: [Int]) {
        try withDataset(name) { dataset, object in
            let type = try H5Library.check(H5Dget_type(dataset), file: path, object: object, "cannot read the datatype")
            defer { H5Tclose(type) }
            if try H5Library.truth(H5Tis_variable_str(type), file: path, object: object, "cannot inspect the type") {
                throw H5Error(file: path, object: object, message: "variable-length strings cannot be read as bytes")
            }
            let shape = try dims(of: dataset, object: object)
            let size = try checkedCount(shape, elementSize: H5Tget_size(type), object: object) * H5Tget_size(type)
            var bytes = [UInt8](repeating: 0, count: size)
            if size > 0 {
                try H5Library.check(H5Dread(dataset, type, h5s_S_ALL(), h5s_S_ALL(), h5s_P_DEFAULT(), &bytes),
                                    file: path, object: object, "cannot read the data")
            }
            return (bytes, shape)
        }
    }
}
