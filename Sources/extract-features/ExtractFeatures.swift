import ArgumentParser
import AttributeSpace
import ClassifierKit
import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// Penultimate features, logits and predictions of a model for a split or an adversarial file.
@main
struct ExtractFeatures: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract-features",
        abstract: "Write a model's penultimate features (after global average pooling), logits and predictions.",
        discussion: """
            Input is either a split of an images.h5 (--images with --split) or an adversarial file
            (--adversarial). An adversarial file is checked against the images.h5 it was made from
            (--images, default: the file's source_images attribute): that file must be the one its
            provenance hashed, every index one of its rows, and every pixel finite, in [0, 1] and
            within the file's eps of the source pixel. A model trained by this pipeline must have
            been trained on the same images.h5. With --shard i/n only that contiguous part of the
            split's (or adversarial file's) rows is processed; merge-shards joins the part files.
            """)

    @Option(help: "The model file.")
    var model: String
    @Option(help: "The dataset (prepare-data output): with --split, the images to run; with --adversarial, their source.")
    var images: String?
    @Option(help: "Split of --images: train, val or test.")
    var split: DataSplit?
    @Option(help: "An adversarial file (attack output) instead of a split of --images.")
    var adversarial: String?
    @Option(help: "Images per batch.")
    var batchSize = 256
    @Option(help: "Output features file.")
    var output: String
    @OptionGroup var sharding: ShardOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        switch (images, split, adversarial) {
        case (.some, .some, .none), (_, .none, .some): break
        case (_, .some, .some): throw ValidationError("--split applies to --images, not --adversarial")
        case (.some, .none, .none): throw ValidationError("--images needs --split train, val or test")
        default: throw ValidationError("give --images with --split, or --adversarial")
        }
        guard (1...65536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
    }

    func run() throws {
        try engine.configure(threads: common.threads)
        let network = try ResNet.load(from: model)
        let chain = ProvenanceChain()
        let source: any FeatureSource = if let adversarial {
            try AdversarialSource(adversarial, images: images, model: network, modelPath: model, chain: chain)
        } else {
            try ImagesSource(images!, split: split!, model: network, modelPath: model)
        }
        try source.checkModel(model, chain: chain)
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
            var writer = try FeaturesFile.Writer(file: file, dimension: network.config.featureDimension,
                                                 classCount: network.config.numClasses)
            for start in stride(from: rows.lowerBound, to: rows.upperBound, by: batchSize) {
                let batch = start..<min(start + batchSize, rows.upperBound)
                let (logits, features) = try network.logitsAndFeatures(try source.batch(batch))
                try writer.append(features: features.data, logits: logits.data)
                progress.advance(by: batch.count)
            }
            predictions = writer.writtenPredictions
            try writer.finish(labels: labels, index: index, setName: source.setName, source: source.path, model: model)
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
    /// `train`, `val` or `test`, or `adv-eps<e>`.
    var setName: String { get }
    var count: Int { get }
    var labels: [Int32] { get }
    var index: [Int64] { get }
    /// The images.h5 the rows come from.
    var images: ImageSet { get }
    /// Rows `rows` of the source as (N, 3, H, W) in [0, 1].
    func batch(_ rows: Range<Int>) throws -> Tensor
}

extension FeatureSource {
    /// A model this pipeline trained must have been trained on these images.
    func checkModel(_ modelPath: String, chain: ProvenanceChain) throws {
        guard let stage = try chain.provenance(of: modelPath)?.stage, ["train", "adv-train"].contains(stage) else { return }
        try chain.requireDerived(modelPath, from: images.path, as: "images")
    }
}

struct ImagesSource: FeatureSource {
    let path: String
    let setName: String
    let images: ImageSet
    let rows: [Int]
    var count: Int { rows.count }
    var labels: [Int32] { rows.map { images.labels[$0] } }
    var index: [Int64] { rows.map(Int64.init) }

    init(_ path: String, split: DataSplit, model: ResNet, modelPath: String) throws {
        self.path = path
        setName = split.rawValue
        images = try ImageSet(path)
        try images.checkCompatible(with: model, modelPath: modelPath)
        rows = images.indices(of: split)
    }

    func batch(_ range: Range<Int>) throws -> Tensor { try images.batch(Array(rows[range])) }
}

struct AdversarialSource: FeatureSource {
    let path: String
    let reader: AdversarialReader
    var setName: String { reader.setName }
    var count: Int { reader.count }
    var labels: [Int32] { reader.labels }
    var index: [Int64] { reader.index }
    var images: ImageSet { reader.source }

    /// Opens the adversarial file and its source images (`images`, or the file's
    /// `source_images`), which must be the images.h5 its provenance hashed; the model the
    /// attack ran against must be unchanged if it is still on disk.
    init(_ path: String, images: String?, model: ResNet, modelPath: String, chain: ProvenanceChain) throws {
        self.path = path
        let file = try H5File.open(path)
        let recorded = try file.hasAttribute("source_images") ? file.attribute("source_images").stringValue : nil
        let attackedModel = try file.hasAttribute("model") ? file.attribute("model").stringValue : nil
        file.close()
        guard let sourcePath = images ?? recorded else {
            throw StageError("\(path): no source_images attribute; give the images.h5 it was made from with --images")
        }
        guard FileManager.default.fileExists(atPath: sourcePath) else {
            throw StageError("\(sourcePath): the source images of \(path) are gone; cannot check its pixels "
                             + "(give the images.h5 it was made from with --images)")
        }
        try chain.requireDerived(path, from: sourcePath, as: "images")
        if let attackedModel, FileManager.default.fileExists(atPath: attackedModel) {
            try chain.requireDerived(path, from: attackedModel, as: "model")
        }
        let source = try ImageSet(sourcePath)
        try source.checkCompatible(with: model, modelPath: modelPath)
        reader = try AdversarialReader(path, source: source)
    }

    func batch(_ rows: Range<Int>) throws -> Tensor { try reader.batch(rows) }
}
