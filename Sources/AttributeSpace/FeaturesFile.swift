import Foundation
import HDF5Store

/// The features file (extract-features output), read and written through this one type:
/// `features` float32 [N, D] (penultimate, after global average pooling), `logits` float32
/// [N, C], `predictions` and `labels` int32 [N], `index` int64 [N] (rows of the source
/// images.h5); root attributes `split` (set name), `source`, `model`.
///
/// Reading opens the file and reads the small per-row vectors at once; features are read
/// in row ranges and refused if any value is NaN or ±Inf (the error names the row).
/// `logits`, `predictions` and `index` are optional for reading (hand-made files).
public final class FeaturesFile {
    public let path: String
    let file: H5File
    /// Rows (images).
    public let count: Int
    /// Feature dimension D.
    public let dimension: Int
    /// Classes of the model, from the width of `logits` (nil without logits).
    public let classCount: Int?
    public let labels: [Int32]
    /// Rows of the source images.h5 (0..<N when the file has no `index`).
    public let index: [Int64]
    /// The model's predictions (nil when the file has none).
    public let predictions: [Int32]?

    /// Opens a features file and checks that its datasets agree in length.
    public init(_ path: String) throws {
        self.path = path
        file = try H5File.open(path)
        do {
            let shape = try file.shape("features")
            guard shape.count == 2 else {
                throw H5Error(file: path, object: "/features", message: "expected float32 [N, D], found shape \(shape)")
            }
            (count, dimension) = (shape[0], shape[1])
            labels = try file.read("labels", as: Int32.self, expectingShape: [count]).data
            index = file.exists("index") ? try file.read("index", as: Int64.self, expectingShape: [count]).data : (0..<Int64(count)).map { $0 }
            predictions = file.exists("predictions") ? try file.read("predictions", as: Int32.self, expectingShape: [count]).data : nil
            if file.exists("logits") {
                let logits = try file.shape("logits")
                guard logits.count == 2, logits[0] == count else {
                    throw H5Error(file: path, object: "/logits", message: "expected float32 [\(count), C], found shape \(logits)")
                }
                classCount = logits[1]
            } else {
                classCount = nil
            }
        } catch {
            file.close()
            throw error
        }
    }

    deinit { file.close() }

    /// Features of `rows` [rows.count, D], refused if any is not finite.
    public func features(_ rows: Range<Int>) throws -> [Float] {
        let values = try file.readRows("features", rows, as: Float.self).data
        try NumberCheck.requireFinite(values, rowWidth: dimension, firstRow: rows.lowerBound, file: path, object: "/features")
        return values
    }

    /// Every feature [N, D], read and checked `batchRows` rows at a time.
    public func allFeatures(batchRows: Int = 4096) throws -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(count * dimension)
        for start in stride(from: 0, to: count, by: batchRows) { values += try features(start..<min(start + batchRows, count)) }
        return values
    }

    /// Throws unless every label is a class of `classSource`'s `classCount`, and the model's
    /// logits (when stored) cover exactly those classes.
    public func checkClasses(_ classCount: Int, of classSource: String) throws {
        if let own = self.classCount, own != classCount {
            throw H5Error(file: path, object: "/logits",
                          message: "features of a \(own)-class model, but \(classSource) has \(classCount) classes: "
                              + "features and \(classSource) do not belong to the same dataset")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            throw H5Error(file: path, object: "/labels",
                          message: "row \(bad) has label \(labels[bad]), but \(classSource) has \(classCount) classes")
        }
        if let predictions, let bad = predictions.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            throw H5Error(file: path, object: "/predictions", message: "row \(bad) is \(predictions[bad]), outside 0..<\(classCount)")
        }
    }

    /// Writes a features file batch by batch into a new `file`.
    public struct Writer {
        let file: H5File
        let dimension: Int
        let classCount: Int
        private var predictions: [Int32] = []

        /// Creates the appendable `features` [·, dimension] and `logits` [·, classCount].
        public init(file: H5File, dimension: Int, classCount: Int) throws {
            self.file = file
            self.dimension = dimension
            self.classCount = classCount
            try file.createAppendable("features", of: Float.self, rowShape: [dimension], chunkRows: 256)
            try file.createAppendable("logits", of: Float.self, rowShape: [classCount], chunkRows: 256)
        }

        /// Appends one batch: features [B, D] and logits [B, C]; the prediction is the logits' argmax.
        public mutating func append(features: [Float], logits: [Float]) throws {
            try file.append("features", features)
            try file.append("logits", logits)
            for row in 0..<(logits.count / classCount) {
                var best = 0
                for c in 1..<classCount where logits[row * classCount + c] > logits[row * classCount + best] { best = c }
                predictions.append(Int32(best))
            }
        }

        /// The predictions of the rows appended so far.
        public var writtenPredictions: [Int32] { predictions }

        /// Writes the per-row vectors and the describing attributes.
        public func finish(labels: [Int32], index: [Int64], setName: String, source: String, model: String) throws {
            let n = predictions.count
            try file.write("predictions", predictions, shape: [n])
            try file.write("labels", labels, shape: [n])
            try file.write("index", index, shape: [n])
            try file.setAttribute("split", .string(setName))
            try file.setAttribute("source", .string(source))
            try file.setAttribute("model", .string(model))
        }
    }
}
