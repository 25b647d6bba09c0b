import Foundation
import HDF5Store
import NeuralNet

/// Writes an adversarial file (DESIGN.md) batch by batch: `images` float32 [N, H, W, 3]
/// (lossless), `index` int64 rows of the source images.h5, `labels`, `clean_predictions`,
/// `adv_predictions` int32, and attributes describing the attack.
public final class AdversarialWriter {
    let file: H5File
    public private(set) var count = 0
    private var maxDistance: Float = 0

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
            ("label", .string(labelMode)),
        ]
        for (name, value) in attributes { try file.setAttribute(name, value) }
    }

    /// Appends one attacked batch; `clean` is needed to record the largest L∞ distance.
    public func append(clean: Tensor, result: AttackResult, indices: [Int], labels: [Int]) throws {
        for j in 0..<clean.count { maxDistance = max(maxDistance, abs(result.adversarial.data[j] - clean.data[j])) }
        try file.append("images", ImageLayout.nhwc(result.adversarial))
        try file.append("index", indices.map(Int64.init))
        try file.append("labels", labels.map(Int32.init))
        try file.append("clean_predictions", result.cleanPredictions.map(Int32.init))
        try file.append("adv_predictions", result.predictions.map(Int32.init))
        count += indices.count
    }

    /// Records the largest ‖x_adv − x‖∞ seen, as attribute `max_linf`.
    public func finish() throws {
        try file.setAttribute("max_linf", .double(Double(maxDistance)))
    }
}
