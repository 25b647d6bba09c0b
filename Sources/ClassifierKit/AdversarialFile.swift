import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// Writes an adversarial file (DESIGN.md) batch by batch: `images` float32 [N, H, W, 3]
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
        var distance = Float(try maxDistance)
        for j in 0..<clean.count { distance = max(distance, abs(result.adversarial.data[j] - clean.data[j])) }
        let (cleanCorrect, robustCorrect) = try correct
        try file.append("images", ImageLayout.nhwc(result.adversarial))
        try file.append("index", indices.map(Int64.init))
        try file.append("labels", labels.map(Int32.init))
        try file.append("clean_predictions", result.cleanPredictions.map(Int32.init))
        try file.append("adv_predictions", result.predictions.map(Int32.init))
        try file.setAttribute("max_linf", .double(Double(distance)))
        try file.setAttribute("clean_correct", .int(Int64(cleanCorrect + zip(result.cleanPredictions, labels).filter { $0 == $1 }.count)))
        try file.setAttribute("robust_correct", .int(Int64(robustCorrect + zip(result.predictions, labels).filter { $0 == $1 }.count)))
    }
}
