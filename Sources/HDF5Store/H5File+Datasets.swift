internal import CHDF5
import Foundation

extension H5File {
    /// Gzip level for compressed datasets: 4 is near the knee of size vs. time.
    static let deflateLevel: UInt32 = 4

    // MARK: Metadata

    /// The shape of a dataset (`[]` for a scalar).
    public func shape(_ name: String) throws -> [Int] {
        try withDataset(name) { dataset, object in try dims(of: dataset, object: object) }
    }

    /// The stored element type of a dataset.
    public func dtype(_ name: String) throws -> H5DType {
        try withDataset(name) { dataset, object in
            let type = try H5Library.check(H5Dget_type(dataset), file: path, object: object, "cannot read the datatype")
            defer { H5Tclose(type) }
            return H5DType(type: type)
        }
    }

    // MARK: Whole datasets

    /// Writes `data` (row-major) as a new dataset of `shape`, replacing nothing: the name
    /// must be free. `compress` stores it chunked and gzip-compressed (for large arrays).
    public func write<T: H5Element>(_ name: String, _ data: [T], shape: [Int], compress: Bool = false) throws {
        let object = Self.absolute(name)
        guard shape.reduce(1, *) == data.count else {
            throw H5Error(file: path, object: object,
                          message: "shape \(shape) holds \(shape.reduce(1, *)) elements, given \(data.count)")
        }
        try H5Library.locked {
            let space = try makeSpace(shape, max: shape, object: object)
            let dcpl = try creationProperties(shape: shape, compress: compress && !shape.isEmpty && data.count > 0,
                                              elementSize: MemoryLayout<T>.stride, object: object)
            let dataset = try createDataset(object, type: T.h5DType, space: space, dcpl: dcpl)
            defer { H5Dclose(dataset) }
            try data.withUnsafeBytes { bytes in
                try H5Library.check(H5Dwrite(dataset, T.h5DType.nativeType!, h5s_S_ALL(), h5s_S_ALL(), h5s_P_DEFAULT(),
                                             bytes.baseAddress),
                                    file: path, object: object, "cannot write the data")
            }
        }
    }

    /// Writes a scalar dataset.
    public func writeScalar<T: H5Element>(_ name: String, _ value: T) throws {
        try write(name, [value], shape: [])
    }

    /// Reads a whole dataset; its stored type must be exactly `T`.
    public func read<T: H5Element>(_ name: String, as type: T.Type = T.self) throws -> H5Array<T> {
        try withDataset(name) { dataset, object in
            try checkType(dataset, T.self, object: object)
            let shape = try dims(of: dataset, object: object)
            let count = try checkedCount(shape, elementSize: MemoryLayout<T>.stride, object: object)
            let data = try [T](unsafeUninitializedCapacity: count) { buffer, initialised in
                if count > 0 {
                    try H5Library.check(H5Dread(dataset, T.h5DType.nativeType!, h5s_S_ALL(), h5s_S_ALL(), h5s_P_DEFAULT(),
                                                buffer.baseAddress),
                                        file: path, object: object, "cannot read the data")
                }
                initialised = count
            }
            return H5Array(shape: shape, data: data)
        }
    }

    /// Reads a whole dataset and checks its shape; `nil` entries in `expected` match any size.
    public func read<T: H5Element>(_ name: String, as type: T.Type = T.self, expectingShape expected: [Int?]) throws -> H5Array<T> {
        let shape = try self.shape(name)
        let matches = shape.count == expected.count && zip(shape, expected).allSatisfy { $1 == nil || $0 == $1 }
        guard matches else {
            let text = expected.map { $0.map(String.init) ?? "any" }.joined(separator: ", ")
            throw H5Error(file: path, object: Self.absolute(name), message: "expected shape [\(text)], found \(shape)")
        }
        return try read(name, as: type)
    }

    /// Reads a scalar (or one-element) dataset.
    public func readScalar<T: H5Element>(_ name: String, as type: T.Type = T.self) throws -> T {
        let array = try read(name, as: type)
        guard array.data.count == 1 else {
            throw H5Error(file: path, object: Self.absolute(name), message: "expected a scalar, found shape \(array.shape)")
        }
        return array.data[0]
    }

    // MARK: Row ranges and appending

    /// Reads rows `rows` along the first dimension through a hyperslab, without loading
    /// the rest of the dataset.
    public func readRows<T: H5Element>(_ name: String, _ rows: Range<Int>, as type: T.Type = T.self) throws -> H5Array<T> {
        try withDataset(name) { dataset, object in
            try checkType(dataset, T.self, object: object)
            let shape = try dims(of: dataset, object: object)
            guard let first = shape.first else {
                throw H5Error(file: path, object: object, message: "cannot read rows of a scalar dataset")
            }
            guard rows.lowerBound >= 0, rows.upperBound <= first else {
                throw H5Error(file: path, object: object, message: "rows \(rows) out of range 0..<\(first)")
            }
            let rowShape = Array(shape.dropFirst())
            let resultShape = [rows.count] + rowShape
            let count = try checkedCount(resultShape, elementSize: MemoryLayout<T>.stride, object: object,
                                         what: "reading rows \(rows)")
            guard count > 0 else { return H5Array(shape: resultShape, data: []) }
            let fileSpace = try H5Library.check(H5Dget_space(dataset), file: path, object: object, "cannot read the dataspace")
            defer { H5Sclose(fileSpace) }
            try selectRows(fileSpace, rows, rank: shape.count, rowShape: rowShape, object: object)
            let memorySpace = try makeSpace(resultShape, max: resultShape, object: object)
            let data = try [T](unsafeUninitializedCapacity: count) { buffer, initialised in
                try H5Library.check(H5Dread(dataset, T.h5DType.nativeType!, memorySpace.id, fileSpace, h5s_P_DEFAULT(),
                                            buffer.baseAddress),
                                    file: path, object: object, "cannot read rows \(rows)")
                initialised = count
            }
            return H5Array(shape: resultShape, data: data)
        }
    }

    /// Creates an empty dataset that grows along its first dimension, chunked by
    /// `chunkRows` rows, for stages that stream their results batch by batch.
    public func createAppendable<T: H5Element>(_ name: String, of type: T.Type, rowShape: [Int],
                                               chunkRows: Int = 64, compress: Bool = true) throws {
        let object = Self.absolute(name)
        try H5Library.locked {
            let space = try makeSpace([0] + rowShape, max: [nil] + rowShape.map { Optional($0) }, object: object)
            let dcpl = try H5Library.check(H5Pcreate(h5s_P_DATASET_CREATE()), file: path, object: object,
                                           "cannot create a property list")
            let dcplHandle = H5Handle(dcpl) { H5Pclose($0) }
            var chunk = ([max(1, chunkRows)] + rowShape.map { max(1, $0) }).map { hsize_t($0) }
            try H5Library.check(H5Pset_chunk(dcpl, Int32(chunk.count), &chunk), file: path, object: object, "cannot set chunking")
            if compress {
                try H5Library.check(H5Pset_shuffle(dcpl), file: path, object: object, "cannot set shuffle")
                try H5Library.check(H5Pset_deflate(dcpl, Self.deflateLevel), file: path, object: object, "cannot set gzip")
            }
            let dataset = try createDataset(object, type: T.h5DType, space: space, dcpl: dcplHandle)
            H5Dclose(dataset)
        }
    }

    /// Appends whole rows (row-major, a multiple of the row size) to an appendable dataset.
    public func append<T: H5Element>(_ name: String, _ data: [T]) throws {
        try withDataset(name) { dataset, object in
            try checkType(dataset, T.self, object: object)
            let shape = try dims(of: dataset, object: object)
            guard !shape.isEmpty else { throw H5Error(file: path, object: object, message: "cannot append to a scalar") }
            let rowShape = Array(shape.dropFirst())
            let rowSize = rowShape.reduce(1, *)
            guard rowSize > 0 ? data.count % rowSize == 0 : data.isEmpty else {
                throw H5Error(file: path, object: object,
                              message: "appending \(data.count) elements, not a multiple of the row size \(rowSize) (row shape \(rowShape))")
            }
            let newRows = rowSize > 0 ? data.count / rowSize : 0
            guard newRows > 0 else { return }
            var newDims = ([shape[0] + newRows] + rowShape).map { hsize_t($0) }
            try H5Library.check(H5Dset_extent(dataset, &newDims), file: path, object: object,
                                "cannot extend (was the dataset created with createAppendable?)")
            let fileSpace = try H5Library.check(H5Dget_space(dataset), file: path, object: object, "cannot read the dataspace")
            defer { H5Sclose(fileSpace) }
            try selectRows(fileSpace, shape[0]..<(shape[0] + newRows), rank: shape.count, rowShape: rowShape, object: object)
            let memorySpace = try makeSpace([newRows] + rowShape, max: [newRows] + rowShape, object: object)
            try data.withUnsafeBytes { bytes in
                try H5Library.check(H5Dwrite(dataset, T.h5DType.nativeType!, memorySpace.id, fileSpace, h5s_P_DEFAULT(),
                                             bytes.baseAddress),
                                    file: path, object: object, "cannot append rows")
            }
        }
    }

    // MARK: Internals

    /// Opens a dataset for the duration of `body`.
    func withDataset<R>(_ name: String, _ body: (hid_t, String) throws -> R) throws -> R {
        let object = Self.absolute(name)
        guard exists(object) else { throw H5Error(file: path, object: object, message: "no such dataset") }
        return try H5Library.locked {
            let dataset = try H5Library.check(H5Dopen2(id, object, h5s_P_DEFAULT()), file: path, object: object,
                                              "cannot open as a dataset")
            defer { H5Dclose(dataset) }
            return try body(dataset, object)
        }
    }

    func dims(of dataset: hid_t, object: String) throws -> [Int] {
        let space = try H5Library.check(H5Dget_space(dataset), file: path, object: object, "cannot read the dataspace")
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw H5Library.error(file: path, object: object, "cannot read the rank") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        return dims.map { Int($0) }
    }

    func checkType<T: H5Element>(_ dataset: hid_t, _: T.Type, object: String) throws {
        let type = try H5Library.check(H5Dget_type(dataset), file: path, object: object, "cannot read the datatype")
        defer { H5Tclose(type) }
        let stored = H5DType(type: type)
        guard stored == T.h5DType else {
            throw H5Error(file: path, object: object, message: "expected \(T.h5DType) data, found \(stored)")
        }
    }

    /// A simple dataspace; `max` nil entries are unlimited. Rank 0 is a scalar space.
    func makeSpace(_ dims: [Int], max: [Int?], object: String) throws -> H5Handle {
        if dims.isEmpty {
            let space = try H5Library.check(H5Screate(H5S_SCALAR), file: path, object: object, "cannot create a dataspace")
            return H5Handle(space) { H5Sclose($0) }
        }
        var current = dims.map { hsize_t($0) }
        var maximum = max.map { $0.map { hsize_t($0) } ?? h5s_S_UNLIMITED() }
        let space = try H5Library.check(H5Screate_simple(Int32(dims.count), &current, &maximum),
                                        file: path, object: object, "cannot create a dataspace of shape \(dims)")
        return H5Handle(space) { H5Sclose($0) }
    }

    func selectRows(_ space: hid_t, _ rows: Range<Int>, rank: Int, rowShape: [Int], object: String) throws {
        var start = [hsize_t](repeating: 0, count: rank)
        start[0] = hsize_t(rows.lowerBound)
        var count = ([rows.count] + rowShape).map { hsize_t($0) }
        try H5Library.check(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nil, &count, nil),
                            file: path, object: object, "cannot select rows \(rows)")
    }

    /// Chunked + shuffled + gzip properties with chunks of about 1 MiB of whole rows.
    func creationProperties(shape: [Int], compress: Bool, elementSize: Int, object: String) throws -> H5Handle? {
        guard compress else { return nil }
        let dcpl = try H5Library.check(H5Pcreate(h5s_P_DATASET_CREATE()), file: path, object: object,
                                       "cannot create a property list")
        let handle = H5Handle(dcpl) { H5Pclose($0) }
        let rowBytes = max(1, shape.dropFirst().reduce(1, *) * elementSize)
        let rows = Swift.max(1, Swift.min(shape[0], (1 << 20) / rowBytes))
        var chunk = ([rows] + shape.dropFirst().map { Swift.max(1, $0) }).map { hsize_t($0) }
        try H5Library.check(H5Pset_chunk(dcpl, Int32(chunk.count), &chunk), file: path, object: object, "cannot set chunking")
        try H5Library.check(H5Pset_shuffle(dcpl), file: path, object: object, "cannot set shuffle")
        try H5Library.check(H5Pset_deflate(dcpl, Self.deflateLevel), file: path, object: object, "cannot set gzip")
        return handle
    }

    /// Creates a dataset of a stored type (little-endian standard types, so files are
    /// portable), creating parent groups; the name must be free.
    func createDataset(_ object: String, type: H5DType, space: H5Handle, dcpl: H5Handle?) throws -> hid_t {
        guard !exists(object) else { throw H5Error(file: path, object: object, message: "already exists") }
        let fileType: hid_t
        switch type {
        case .float32: fileType = h5s_T_IEEE_F32LE()
        case .float64: fileType = h5s_T_IEEE_F64LE()
        case .int32: fileType = h5s_T_STD_I32LE()
        case .int64: fileType = h5s_T_STD_I64LE()
        case .uint8: fileType = h5s_T_STD_U8LE()
        default: throw H5Error(file: path, object: object, message: "cannot create a dataset of type \(type)")
        }
        let lcpl = try intermediateGroupsPropertyList()
        return try H5Library.check(H5Dcreate2(id, object, fileType, space.id, lcpl.id, dcpl?.id ?? h5s_P_DEFAULT(), h5s_P_DEFAULT()),
                                   file: path, object: object, "cannot create the dataset")
    }
}
