import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// Writes an adversarial file (docs/design.md § Artifact schemas) batch by batch: `images` float32 [N, H, W, 3]
/// (lossless), `index` int64 rows of the source images.h5, `labels`, `clean_predictions`,
/// `adv_predictions` int32, `perturbation_norm` float32 (‖x_adv − x‖ in the attack's norm),
/// `minimal_norm` float32 (the smallest fooling perturbation the attack found, +∞ for none),
/// `broken_by` int32 (which attack broke the row, `AdversarialRows.brokenBy`),
/// and attributes describing the attack. Running totals
/// (`max_linf`, `max_norm`, `clean_correct`, `robust_correct`) are attributes updated with every batch,
/// so a file reopened to resume an interrupted attack carries on from them.
public struct AdversarialWriter {
    let file: H5File

    /// The datasets with one row per attacked image (joined by merge-shards).
    public static let rowDatasets = ["images", "index", "labels", "clean_predictions", "adv_predictions", "perturbation_norm",
                                     "minimal_norm", "broken_by"]
    /// How the per-part summaries of a sharded attack combine into the whole run's.
    public static let shardSummaries: [String: ShardCombine] = [
        "max_linf": .max, "max_norm": .max, "clean_correct": .sum, "robust_correct": .sum,
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
        for name in ["labels", "clean_predictions", "adv_predictions", "broken_by"] {
            try file.createAppendable(name, of: Int32.self, rowShape: [], chunkRows: 4096, compress: false)
        }
        for name in ["perturbation_norm", "minimal_norm"] {
            try file.createAppendable(name, of: Float.self, rowShape: [], chunkRows: 4096, compress: false)
        }
        // The settings beyond IFGSM's (norm, targets, queries, …) as attributes too.
        for (name, value) in settings.parameters.sorted(by: { $0.key < $1.key })
        where !["method", "eps", "alpha", "steps", "random_start", "restarts", "norm"].contains(name) {
            switch value {
            case let v as Int: try file.setAttribute(name, .int(Int64(v)))
            case let v as Double: try file.setAttribute(name, .double(v))
            case let v as String: try file.setAttribute(name, .string(v))
            default: break
            }
        }
        let attributes: [(String, H5AttributeValue)] = [
            ("eps", .double(Double(settings.eps))), ("alpha", .double(Double(settings.alpha))),
            ("steps", .int(Int64(settings.steps))), ("method", .string(settings.method.rawValue)),
            ("random_start", .int(settings.randomStart ? 1 : 0)), ("restarts", .int(Int64(settings.restarts))),
            ("source_images", .string(sourceImages)), ("model", .string(model)), ("split", .string(split)),
            ("label", .string(labelMode)), ("norm", .string(settings.method.norm.rawValue)), ("max_linf", .double(0)),
            ("max_norm", .double(0)), ("clean_correct", .int(0)), ("robust_correct", .int(0)),
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
        let largestNorm = max(try file.attribute("max_norm").doubleValue ?? 0, Double(rows.perturbationNorm.max() ?? 0))
        let (cleanCorrect, robustCorrect) = try correct
        try file.append("images", rows.images)
        try file.append("index", rows.index)
        try file.append("labels", rows.labels)
        try file.append("clean_predictions", rows.cleanPredictions)
        try file.append("adv_predictions", rows.advPredictions)
        try file.append("perturbation_norm", rows.perturbationNorm)
        try file.append("minimal_norm", rows.minimalNorm)
        try file.append("broken_by", rows.brokenBy)
        try file.setAttribute("max_linf", .double(Double(distance)))
        try file.setAttribute("max_norm", .double(largestNorm))
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
    /// ‖x_adv − x‖ per row in the attack's norm, and the smallest fooling norm found (+∞: none).
    public var perturbationNorm: [Float]
    public var minimalNorm: [Float]
    /// Which attack broke each row: 0 none (or misclassified when clean), 1 APGD-CE, 2 APGD-T,
    /// 3 Square; for IFGSM/PGD/C&W/DeepFool rows broken by the attack, 4.
    public var brokenBy: [Int32]
    /// Largest ‖x_adv − x‖∞ over these rows.
    public var maxDistance: Float

    public init(images: [Float], index: [Int64], labels: [Int32], cleanPredictions: [Int32], advPredictions: [Int32],
                perturbationNorm: [Float], minimalNorm: [Float], brokenBy: [Int32], maxDistance: Float) {
        self.images = images
        self.index = index
        self.labels = labels
        self.cleanPredictions = cleanPredictions
        self.advPredictions = advPredictions
        self.perturbationNorm = perturbationNorm
        self.minimalNorm = minimalNorm
        self.brokenBy = brokenBy
        self.maxDistance = maxDistance
    }

    /// The rows of one attacked batch: `clean` (N, 3, H, W) and the attack's result on it.
    public init(clean: Tensor, result: AttackResult, indices: [Int], labels: [Int]) {
        var distance: Float = 0
        for j in 0..<clean.count { distance = max(distance, abs(result.adversarial.data[j] - clean.data[j])) }
        self.init(images: ImageLayout.nhwc(result.adversarial), index: indices.map(Int64.init), labels: labels.map(Int32.init),
                  cleanPredictions: result.cleanPredictions.map(Int32.init), advPredictions: result.predictions.map(Int32.init),
                  perturbationNorm: result.perturbationNorms, minimalNorm: result.minimalNorms,
                  brokenBy: result.brokenBy.map(Int32.init), maxDistance: distance)
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
/// recorded `eps` (+1e-6) of the source pixel (for a file whose `norm` is `l2`: every image
/// within `eps` of its source in L2, with a relative slack of 1e-5). Pixels are checked as each batch is read,
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
    /// The budget recorded in the file, in `norm`.
    public let eps: Double
    /// The norm of the budget: `linf` (files written before attacks had norms too) or `l2`.
    public let norm: AttackNorm
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
            let normText = file.hasAttribute("norm") ? try file.attribute("norm").stringValue ?? "" : "linf"
            guard let norm = AttackNorm(rawValue: normText) else {
                throw H5Error(file: path, object: "/ @norm", message: "expected linf or l2, found '\(normText)'")
            }
            self.norm = norm
            guard let eps = try file.attribute("eps").doubleValue, eps.isFinite, eps >= 0, norm == .l2 || eps <= 1 else {
                throw H5Error(file: path, object: "/ @eps", message: norm == .l2 ? "expected a finite L2 budget ≥ 0" : "expected a number in [0, 1]")
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

    /// `adv-eps<e>`, the set name of features made from this file (`adv-l2eps<e>` for an L2
    /// budget, which may exceed 1: the minimal-norm attacks run with budgets no image reaches).
    public var setName: String {
        norm == .l2 ? "adv-l2eps\(Epsilon.trimmed(eps, decimals: 6))" : DatasetLayout.adversarialSet(Epsilon(value: Float(eps)))
    }

    /// Rows `rows` as (N, 3, H, W) in [0, 1], checked against their source images.
    public func batch(_ rows: Range<Int>) throws -> Tensor {
        let values = try file.readRows("images", rows, as: Float.self).data
        let rowSize = imageSize * imageSize * 3
        try NumberCheck.requireWithin(values, 0...1, rowWidth: rowSize, firstRow: rows.lowerBound, file: path, object: "/images")
        let clean = try source.loadRaw(rows.map { Int(index[$0]) })
        if norm == .l2 {
            for r in 0..<rows.count {
                var squared: Double = 0
                for j in (r * rowSize)..<((r + 1) * rowSize) {
                    let d = Double(values[j]) - Double(clean[j]) / 255
                    squared += d * d
                }
                if squared.squareRoot() > eps * (1 + 1e-5) + Self.distanceTolerance {
                    throw H5Error(file: path, object: "/images",
                                  message: "row \(rows.lowerBound + r) is \(squared.squareRoot()) away from image "
                                      + "\(index[rows.lowerBound + r]) of \(source.path) in L2, more than the file's eps \(eps)")
                }
            }
            return ImageLayout.tensor(fromNHWC: values, count: rows.count, size: imageSize)
        }
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
