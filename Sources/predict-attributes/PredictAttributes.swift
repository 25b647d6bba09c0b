import AttributeSpace
import ArgumentParser
import Foundation
import HDF5Store
import PipelineKit
import Tensors

/// Maps features (clean or adversarial) to predicted attributes with a trained SJE.
@main
struct PredictAttributes: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict-attributes",
        abstract: "Predicted attributes A = θ(x)W, class scores Aᵀφ(y) and the attribute-based prediction for a features file.",
        discussion: "With --shard i/n only that contiguous part of the features file's rows is processed; merge-shards joins the part files.")

    @Option(help: "SJE file (fit-sje output).")
    var sje: String
    @Option(help: "Features file (extract-features output, clean or adversarial).")
    var features: String
    @Option(help: "Output attributes file.")
    var output: String
    @Option(help: "Stored attribute vectors: l2 (unit norm, the authors' choice) or none.")
    var attributeNormalisation = AttributeNormalisation.l2
    @Option(help: "Rows per batch streamed from the features file.")
    var batchSize = 1024

    @OptionGroup var sharding: ShardOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (1...65536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
    }

    func run() throws {
        Engine.configure(threads: common.threads)
        Log.verbose("predict-attributes: \(Engine.threadCount) thread(s)")
        let sjeFile = try H5File.open(sje)
        let model = try SJE.read(from: sjeFile)
        let classNames = try sjeFile.readStrings("class_names")
        let attributeNames = try sjeFile.readStrings("attribute_names")
        sjeFile.close()

        let input = try FeaturesFile(features)
        guard input.dimension == model.featureDimension else {
            throw StageError("\(features): /features has shape [\(input.count), \(input.dimension)], but the SJE \(sje) expects [N, \(model.featureDimension)]")
        }
        try input.checkClasses(model.classCount, of: "the SJE \(sje)")
        // The SJE was fitted on features of one model and images: these must be the same.
        let chain = ProvenanceChain()
        try chain.requireSameModel(sje, features)
        try chain.requireSameImages(sje, features)
        let total = input.count
        let rows = sharding.rows(of: total, batch: batchSize)
        let n = rows.count
        let labels = Array(input.labels[rows]), index = Array(input.index[rows])

        let run = try StageRun(stage: "predict-attributes", output: output, seed: common.seed,
                               parameters: ["attribute_normalisation": attributeNormalisation.rawValue, "batch_size": batchSize],
                               inputs: [sje, features],
                               shard: sharding.value.map {
                                   ShardPlan(shard: $0, total: total, batch: batchSize,
                                             rowDatasets: ["attributes", "scores", "predictions", "labels", "index"])
                               })
        let progress = Progress("predict-attributes", total: n)
        var predictions: [Int32] = []
        try run.run { file in
            try file.createAppendable("attributes", of: Float.self, rowShape: [model.attributeCount], chunkRows: 256)
            try file.createAppendable("scores", of: Float.self, rowShape: [model.classCount], chunkRows: 256)
            for start in stride(from: rows.lowerBound, to: rows.upperBound, by: batchSize) {
                let batch = start..<min(start + batchSize, rows.upperBound)
                var attributes = model.attributes(features: try input.features(batch))
                attributeNormalisation.apply(to: &attributes, attributes: model.attributeCount)
                let scores = model.scores(attributes: attributes)
                predictions += SJE.argmax(scores: scores, classes: model.classCount)
                try file.append("attributes", attributes)
                try file.append("scores", scores)
                progress.advance(by: batch.count)
            }
            try file.write("predictions", predictions, shape: [n])
            try file.write("labels", labels, shape: [n])
            try file.write("index", index, shape: [n])
            try file.writeStrings("class_names", classNames)
            try file.writeStrings("attribute_names", attributeNames)
            try file.setAttribute("attribute_normalisation", .string(attributeNormalisation.rawValue))
            try file.setAttribute("sje", .string(sje))
            try file.setAttribute("features", .string(features))
        }
        progress.finish()
        let correct = zip(predictions, labels).filter { $0 == $1 }.count
        Log.info(String(format: "predict-attributes: attribute-based accuracy %.4f (%d/%d) → %@",
                        Double(correct) / Double(max(n, 1)), correct, n, output))
    }
}
