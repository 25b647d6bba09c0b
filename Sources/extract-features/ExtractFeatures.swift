import ArgumentParser
import ClassifierKit
import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// Penultimate features, logits and predictions of a model for a split or an adversarial file.
@main
struct ExtractFeatures: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract-features",
        abstract: "Write a model's penultimate features (after global average pooling), logits and predictions.",
        discussion: """
            Input is either a split of an images.h5 (--images with --split) or an adversarial file
            (--adversarial). For an adversarial file, the images.h5 it was made from must be
            unchanged: its SHA-256 is checked against the adversarial file's provenance. With
            --shard i/n only that contiguous part of the split's (or adversarial file's) rows is
            processed; merge-shards joins the part files.
            """)

    @Option(help: "The model file.")
    var model: String
    @Option(help: "The dataset (prepare-data output), with --split.")
    var images: String?
    @Option(help: "Split of --images: train, val or test.")
    var split: String?
    @Option(help: "An adversarial file (attack output) instead of --images.")
    var adversarial: String?
    @Option(help: "Images per batch.")
    var batchSize = 256
    @Option(help: "Output features file.")
    var output: String
    @OptionGroup var sharding: ShardOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        switch (images, adversarial) {
        case (.some, .none):
            guard let split, DataSplit(rawValue: split) != nil else {
                throw ValidationError("--images needs --split train, val or test")
            }
        case (.none, .some):
            guard split == nil else { throw ValidationError("--split applies to --images, not --adversarial") }
        default:
            throw ValidationError("give exactly one of --images (with --split) or --adversarial")
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        Engine.configure(threads: common.threads)
        let network = try ResNet.load(from: model)
        let source: any FeatureSource = if let adversarial {
            try AdversarialSource(adversarial, model: network, modelPath: model)
        } else {
            try ImagesSource(images!, split: DataSplit(rawValue: split!)!, model: network, modelPath: model)
        }
        let shard = sharding.value.map {
            ShardPlan(shard: $0, total: source.count, batch: batchSize, rowDatasets: ["features", "logits", "predictions", "labels", "index"])
        }
        let run = try StageRun(stage: "extract-features", output: output, seed: common.seed,
                               parameters: ["set": source.setName, "batch_size": batchSize],
                               inputs: [model, source.path], shard: shard)
        let rows = sharding.rows(of: source.count, batch: batchSize)
        let n = rows.count
        let labels = Array(source.labels[rows]), index = Array(source.index[rows])
        let progress = Progress("extract-features \(source.setName)", total: n)
        var predictions: [Int32] = []
        try run.run { file in
            try file.createAppendable("features", of: Float.self, rowShape: [network.config.featureDimension], chunkRows: 256)
            try file.createAppendable("logits", of: Float.self, rowShape: [network.config.numClasses], chunkRows: 256)
            for start in stride(from: rows.lowerBound, to: rows.upperBound, by: batchSize) {
                let batch = start..<min(start + batchSize, rows.upperBound)
                let (logits, features) = try network.logitsAndFeatures(try source.batch(batch))
                try file.append("features", features.data)
                try file.append("logits", logits.data)
                predictions += ResNet.argmax(logits).map(Int32.init)
                progress.advance(by: batch.count)
            }
            try file.write("predictions", predictions, shape: [n])
            try file.write("labels", labels, shape: [n])
            try file.write("index", index, shape: [n])
            try file.setAttribute("split", .string(source.setName))
            try file.setAttribute("source", .string(source.path))
            try file.setAttribute("model", .string(model))
        }
        progress.finish()
        let correct = zip(predictions, labels).filter { $0 == $1 }.count
        Log.info(String(format: "extract-features: %@, accuracy %.4f (%d/%d) → %@", source.setName,
                        Double(correct) / Double(max(n, 1)), correct, n, output))
    }
}

/// Where extract-features reads images from.
protocol FeatureSource {
    var path: String { get }
    /// `train`, `val`, `test` or `adv-eps<e>`.
    var setName: String { get }
    var count: Int { get }
    var labels: [Int32] { get }
    var index: [Int64] { get }
    /// Rows `rows` of the source as (N, 3, H, W) in [0, 1].
    func batch(_ rows: Range<Int>) throws -> Tensor
}

struct ImagesSource: FeatureSource {
    let path: String
    let setName: String
    let set: ImageSet
    let rows: [Int]
    var count: Int { rows.count }
    var labels: [Int32] { rows.map { set.labels[$0] } }
    var index: [Int64] { rows.map(Int64.init) }

    init(_ path: String, split: DataSplit, model: ResNet, modelPath: String) throws {
        self.path = path
        setName = split.rawValue
        set = try ImageSet(path)
        try set.checkCompatible(with: model, modelPath: modelPath)
        rows = set.indices(of: split)
    }

    func batch(_ range: Range<Int>) throws -> Tensor { try set.batch(Array(rows[range])) }
}

struct AdversarialSource: FeatureSource {
    let path: String
    let setName: String
    let file: H5File
    let count: Int
    let size: Int
    let labels: [Int32]
    let index: [Int64]

    init(_ path: String, model: ResNet, modelPath: String) throws {
        self.path = path
        file = try H5File.open(path)
        let shape = try file.shape("images")
        guard shape.count == 4, shape[3] == 3, shape[1] == shape[2] else {
            throw H5Error(file: path, object: "/images", message: "expected float32 [N, H, W, 3], found shape \(shape)")
        }
        count = shape[0]
        size = shape[1]
        guard size == model.config.inputSize else {
            throw StageError("\(modelPath): the model takes \(model.config.inputSize)×\(model.config.inputSize) images, "
                             + "but \(path) stores \(size)×\(size)")
        }
        labels = try file.read("labels", as: Int32.self, expectingShape: [count]).data
        index = try file.read("index", as: Int64.self, expectingShape: [count]).data
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= model.config.numClasses }) {
            throw StageError("\(path): /labels row \(bad) is \(labels[bad]), but \(modelPath) predicts \(model.config.numClasses) classes")
        }
        guard let eps = try file.attribute("eps").doubleValue else {
            throw H5Error(file: path, object: "/ @eps", message: "expected a number")
        }
        setName = "adv-eps\(Self.format(eps))"
        try Self.checkSource(of: file)
    }

    /// The images.h5 an adversarial file was made from must be the one its provenance hashed.
    static func checkSource(of file: H5File) throws {
        guard let source = try file.attribute("source_images").stringValue else { return }
        let provenance = try Provenance.read(from: file)
        guard let recorded = provenance.inputs.first(where: { $0.path == source }) else { return }
        guard FileManager.default.fileExists(atPath: source) else {
            Log.warning("\(file.path): its source images \(source) are gone; cannot check they are unchanged")
            return
        }
        let current = try SHA256.hex(ofFile: source)
        guard current == recorded.sha256 else {
            throw StageError("\(file.path): its source images \(source) have changed since the attack "
                             + "(SHA-256 \(current.prefix(12))… now, \(recorded.sha256.prefix(12))… then); rerun the attack")
        }
    }

    /// eps as a short decimal (0.01, 0.06, 0.12).
    static func format(_ eps: Double) -> String {
        var text = String(format: "%.6f", eps)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    func batch(_ rows: Range<Int>) throws -> Tensor {
        ImageLayout.tensor(fromNHWC: try file.readRows("images", rows, as: Float.self).data, count: rows.count, size: size)
    }
}
