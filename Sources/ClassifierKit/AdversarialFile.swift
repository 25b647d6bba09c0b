import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// Writes an adversarial file (docs/design.md § Artifact schemas) batch by batch: `images` float32 [N, H, W, 3]
/// (lossless), `index` int64 rows of the source images.h5, `labels`, `clean_predictions`,
/// `adv_predictions` int32, and attributes describing the attack. Running totals
/// (`max_linf`, `clean_correct`, `robust_correct`) are attributes updated with every batch,
/// so a file reopened to resume an interrupted attack carries on from them.
public struct AdversarialWriter {
    let file: H5File

    /// The datasets with one row per attacked image (joined by merge-shards).
    public static let rowDatasets = ["images", "index", "labels", "clean_predictions", "adv_predictions"]
    /// How the per-part summaries of a sharded attack combine into the whole run's.
    public static let shardSummaries: [String: ShardCombine] = [
        "max_linf": .max, "clean_correct": .sum, "robust_correct": .sum,
        "clean_accuracy": .perRow(of: "clean_correct"), "robust_accuracy": .perRow(of: "robust_correct"),
        "fingerprint": .runFingerprint,
    ]

    /// Opens a writer on a file that already holds the datasets (resuming).
    public init(resuming file: H5File) {
        self.file = file
    }

    /// Creates the datasets and the attributes describing the attack in `file`.
    public init(file: H5File, imageSize: Int, settings: AttackSettings, sourceImages: String, model: String,
                split: String, labelMode: String) throws {
        self.file = file
        try file.createAppendable("images", of: Float.self, rowShape: [imageSize, imageSize, 3],
                                  chunkRows: max(1, (1 << 20) / (imageSize * imageSize * 12)))
        try file.createAppendable("index", of: Int64.self, rowShape: [], chunkRows: 4096, compress: false)
        for name in ["labels", "clean_predictions", "adv_predictions"] {
            try file.createAppendable(name, of: Int32.self, rowShape: [], chunkRows: 4096, compress: false)
        }
        let attributes: [(String, H5AttributeValue)] = [
            ("eps", .double(Double(settings.eps))), ("alpha", .double(Double(settings.alpha))),
            ("steps", .int(Int64(settings.steps))), ("method", .string(settings.method.rawValue)),
            ("random_start", .int(settings.randomStart ? 1 : 0)), ("restarts", .int(Int64(settings.restarts))),
            ("source_images", .string(sourceImages)), ("model", .string(model)), ("split", .string(split)),
            ("label", .string(labelMode)), ("max_linf", .double(0)), ("clean_correct", .int(0)), ("robust_correct", .int(0)),
        ]
        for (name, value) in attributes { try file.setAttribute(name, value) }
    }

    /// Rows written so far.
    public var count: Int { get throws { try file.shape("index")[0] } }
    /// Largest ‖x_adv − x‖∞ so far.
    public var maxDistance: Double { get throws { try file.attribute("max_linf").doubleValue ?? 0 } }
    /// Images classified correctly when clean, and when attacked, so far.
    public var correct: (clean: Int, robust: Int) {
        get throws {
            (Int(try file.attribute("clean_correct").intValue ?? 0), Int(try file.attribute("robust_correct").intValue ?? 0))
        }
    }

    /// Appends one attacked batch and updates the running totals.
    public func append(clean: Tensor, result: AttackResult, indices: [Int], labels: [Int]) throws {
        try append(AdversarialRows(clean: clean, result: result, indices: indices, labels: labels))
    }

    /// Appends rows (one batch, or one batch of a work file) and updates the running totals.
    public func append(_ rows: AdversarialRows) throws {
        let distance = max(Float(try maxDistance), rows.maxDistance)
        let (cleanCorrect, robustCorrect) = try correct
        try file.append("images", rows.images)
        try file.append("index", rows.index)
        try file.append("labels", rows.labels)
        try file.append("clean_predictions", rows.cleanPredictions)
        try file.append("adv_predictions", rows.advPredictions)
        try file.setAttribute("max_linf", .double(Double(distance)))
        try file.setAttribute("clean_correct", .int(Int64(cleanCorrect + rows.cleanCorrect)))
        try file.setAttribute("robust_correct", .int(Int64(robustCorrect + rows.robustCorrect)))
    }
}

/// Consecutive rows of an adversarial file, as the attack produces them batch by batch.
public struct AdversarialRows: Equatable {
    /// Adversarial images, float32 [n, H, W, 3] flattened.
    public var images: [Float]
    /// Rows of the source images.h5.
    public var index: [Int64]
    public var labels: [Int32]
    public var cleanPredictions: [Int32]
    public var advPredictions: [Int32]
    /// Largest ‖x_adv − x‖∞ over these rows.
    public var maxDistance: Float

    public init(images: [Float], index: [Int64], labels: [Int32], cleanPredictions: [Int32], advPredictions: [Int32],
                maxDistance: Float) {
        self.images = images
        self.index = index
        self.labels = labels
        self.cleanPredictions = cleanPredictions
        self.advPredictions = advPredictions
        self.maxDistance = maxDistance
    }

    /// The rows of one attacked batch: `clean` (N, 3, H, W) and the attack's result on it.
    public init(clean: Tensor, result: AttackResult, indices: [Int], labels: [Int]) {
        var distance: Float = 0
        for j in 0..<clean.count { distance = max(distance, abs(result.adversarial.data[j] - clean.data[j])) }
        self.init(images: ImageLayout.nhwc(result.adversarial), index: indices.map(Int64.init), labels: labels.map(Int32.init),
                  cleanPredictions: result.cleanPredictions.map(Int32.init), advPredictions: result.predictions.map(Int32.init),
                  maxDistance: distance)
    }

    public var count: Int { index.count }
    /// Rows whose clean prediction is the label.
    public var cleanCorrect: Int { zip(cleanPredictions, labels).filter { $0 == $1 }.count }
    /// Rows whose adversarial prediction is the label.
    public var robustCorrect: Int { zip(advPredictions, labels).filter { $0 == $1 }.count }
}

/// Reads an adversarial file (attack output) batch by batch, refusing numbers that cannot
/// be adversarial images of its source: every `index` must be a row of the source
/// images.h5 with the same label, and every pixel finite, in [0, 1] and within the file's
/// recorded `eps` (+1e-6) of the source pixel. Pixels are checked as each batch is read,
/// so the file is never loaded whole; an error names the file, the dataset and the first
/// bad row.
public final class AdversarialReader {
    public let path: String
    let file: H5File
    /// The images.h5 the adversarials were made from.
    public let source: ImageSet
    public let count: Int
    public let imageSize: Int
    public let labels: [Int32]
    /// Rows of the source images.h5.
    public let index: [Int64]
    /// The L∞ budget recorded in the file.
    public let eps: Double
    /// Slack on the distance check: float32 rounding of pixels stored as x/255.
    public static let distanceTolerance = 1e-6

    /// Opens `path`, reads its per-row vectors and checks them against `source`.
    public init(_ path: String, source: ImageSet) throws {
        self.path = path
        self.source = source
        file = try H5File.open(path)
        do {
            let shape = try file.shape("images")
            guard shape.count == 4, shape[3] == 3, shape[1] == shape[2] else {
                throw H5Error(file: path, object: "/images", message: "expected float32 [N, H, W, 3], found shape \(shape)")
            }
            (count, imageSize) = (shape[0], shape[1])
            guard imageSize == source.imageSize else {
                throw StageError("\(path): stores \(imageSize)×\(imageSize) images, but its source \(source.path) "
                                 + "\(source.imageSize)×\(source.imageSize)")
            }
            labels = try file.read("labels", as: Int32.self, expectingShape: [count]).data
            index = try file.read("index", as: Int64.self, expectingShape: [count]).data
            guard let eps = try file.attribute("eps").doubleValue, eps.isFinite, (0...1).contains(eps) else {
                throw H5Error(file: path, object: "/ @eps", message: "expected a number in [0, 1]")
            }
            self.eps = eps
            if let bad = index.firstIndex(where: { $0 < 0 || $0 >= Int64(source.count) }) {
                throw H5Error(file: path, object: "/index",
                              message: "row \(bad) is \(index[bad]), outside the rows 0..<\(source.count) of \(source.path)")
            }
            if let bad = labels.indices.first(where: { labels[$0] != source.labels[Int(index[$0])] }) {
                throw H5Error(file: path, object: "/labels",
                              message: "row \(bad) is \(labels[bad]), but image \(index[bad]) of \(source.path) has label "
                                  + "\(source.labels[Int(index[bad])]): made from another images.h5?")
            }
        } catch {
            file.close()
            throw error
        }
    }

    deinit { file.close() }

    /// `adv-eps<e>`, the set name of features made from this file.
    public var setName: String { DatasetLayout.adversarialSet(Epsilon(value: Float(eps))) }

    /// Rows `rows` as (N, 3, H, W) in [0, 1], checked against their source images.
    public func batch(_ rows: Range<Int>) throws -> Tensor {
        let values = try file.readRows("images", rows, as: Float.self).data
        let rowSize = imageSize * imageSize * 3
        try NumberCheck.requireWithin(values, 0...1, rowWidth: rowSize, firstRow: rows.lowerBound, file: path, object: "/images")
        let clean = try source.loadRaw(rows.map { Int(index[$0]) })
        let limit = Float(eps + Self.distanceTolerance)
        for j in values.indices where abs(values[j] - Float(clean[j]) * (1 / 255)) > limit {
            let row = rows.lowerBound + j / rowSize
            throw H5Error(file: path, object: "/images",
                          message: "row \(row) is \(abs(values[j] - Float(clean[j]) / 255)) away from image \(index[row]) "
                              + "of \(source.path) in L∞, more than the file's eps \(eps)")
        }
        return ImageLayout.tensor(fromNHWC: values, count: rows.count, size: imageSize)
    }
}
