import ArgumentParser
import ClassifierKit
import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

extension AttackMethod: ExpressibleByArgument {}

/// Which labels the attack moves away from.
enum LabelMode: String, ExpressibleByArgument, CaseIterable {
    /// The ground truth (the default of docs/design.md § Semantics).
    case `true`
    /// The model's own clean prediction (avoids label leaking).
    case predicted
}

/// Attacks a model on one split of an images.h5 at one or more eps.
@main
struct AttackStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attack",
        abstract: "Generate adversarial images with IFGSM or PGD (L∞, pixels in [0,1]) and report robust accuracy per eps.",
        discussion: """
            IFGSM (paper eq. 1): x ← clip_[0,1](clip_{x±eps}(x + α·sign(∇ₓL))), from the clean image,
            α = 1/255 and steps = ceil(min(eps·255 + 4, 1.25·eps·255)) by default (Kurakin et al.).
            PGD: uniform random start in the eps-ball, 10 steps of α = 2.5·eps/steps by default;
            with --restarts, each image keeps its worst case. The model runs in eval mode, so
            results do not depend on --batch-size. One output file per eps: with one eps,
            --output is the file; with several, --output is a directory and files are named
            <model>-eps<e>.h5 with e as written on the command line. With --shard i/n only that
            contiguous part of the split is attacked (per-image random streams make every image's
            result the same as in an unsharded run); merge-shards joins the parts, which in
            directory mode are named <model>-eps<e>.part<i>of<n>.h5.
            """)

    @Option(help: "The dataset (prepare-data output).")
    var images: String
    @Option(help: "The model file to attack.")
    var model: String
    @Option(parsing: .upToNextOption, help: "One or more L∞ budgets in [0,1] pixel units, e.g. 0.01 0.06 0.12.", transform: Epsilon.parse)
    var eps: [Epsilon]
    @Option(help: "Split to attack: train, val or test.")
    var split = DataSplit.test
    @Option(help: "Attack: ifgsm or pgd.")
    var method = AttackMethod.ifgsm
    @Option(help: "Steps (default: Kurakin's rule for ifgsm, 10 for pgd).")
    var steps: Int?
    @Option(help: "Step size α (default: 1/255 for ifgsm, 2.5·eps/steps for pgd).")
    var alpha: Float?
    @Option(help: "PGD restarts (the per-image worst case is kept).")
    var restarts = 1
    @Option(help: "Attack away from the true label or from the model's clean prediction.")
    var label = LabelMode.true
    @Option(help: "Images per batch (results do not depend on it).")
    var batchSize = 128
    @Option(help: "Output file (one eps) or directory (several).")
    var output: String
    @Flag(help: "Continue an interrupted attack from <output>.checkpoint if it matches these settings and inputs.")
    var resume = false
    @OptionGroup var sharding: ShardOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard !eps.isEmpty else { throw ValidationError("give at least one --eps") }
        for e in eps {
            do { try settings(eps: e.value).validate() } catch let error as StageError { throw ValidationError(error.message) }
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        var isDirectory: ObjCBool = false
        if eps.count > 1, FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("with several --eps, --output names a directory (one <model>-eps<e>.h5 per eps), "
                                  + "but \(output) is an existing file")
        }
    }

    func settings(eps: Float) -> AttackSettings {
        switch method {
        case .ifgsm: .ifgsm(eps: eps, alpha: alpha, steps: steps)
        case .pgd: .pgd(eps: eps, steps: steps ?? 10, alpha: alpha, restarts: restarts)
        }
    }

    func run() throws {
        Engine.configure(threads: common.threads)
        let imageSet = try ImageSet(images)
        let network = try ResNet.load(from: model)
        try imageSet.checkCompatible(with: network, modelPath: model)
        let splitIndices = imageSet.indices(of: split)
        guard !splitIndices.isEmpty else { throw StageError("\(images): the \(split) split is empty") }
        let indices = Array(splitIndices[sharding.rows(of: splitIndices.count, batch: batchSize)])
        let modelFile = OutputPaths.fileName(of: model)
        let modelName = modelFile.lastIndex(of: ".").map { $0 == modelFile.startIndex ? modelFile : String(modelFile[..<$0]) } ?? modelFile

        var table: [String] = []
        for epsilon in eps {
            let attack = settings(eps: epsilon.value)
            let partSuffix = sharding.value.map { ".part\($0.index)of\($0.count)" } ?? ""
            let target = eps.count == 1 ? output : OutputPaths.join(output, "\(modelName)-\(epsilon.fileTag)\(partSuffix).h5")
            var parameters = attack.parameters
            parameters.merge(["split": split.rawValue, "label": label.rawValue, "batch_size": batchSize]) { $1 }
            let shard = sharding.value.map {
                ShardPlan(shard: $0, total: splitIndices.count, batch: batchSize, rowDatasets: AdversarialWriter.rowDatasets,
                          combine: AdversarialWriter.shardSummaries)
            }
            let run = try StageRun(stage: "attack", output: target, seed: common.seed, parameters: parameters,
                                   inputs: [images, model], shard: shard)
            // The work survives an interruption (unlike StageRun's partial files): with
            // --resume the attack continues after its last finished batch.
            let work = try AttackWorkFile(path: OutputPaths.checkpoint(of: target), fingerprint: run.fingerprint,
                                          indices: indices, imageSize: imageSet.imageSize, resume: resume)
            let progress = Progress("attack \(attack.method.rawValue) eps \(epsilon)", total: indices.count - work.rowsDone)
            var zeroGradients = 0
            for start in stride(from: work.rowsDone, to: indices.count, by: batchSize) {
                let batch = Array(indices[start..<min(start + batchSize, indices.count)])
                let x = try imageSet.batch(batch)
                let labels = batch.map { Int(imageSet.labels[$0]) }
                let targets = label == .true ? labels : try network.predict(x)
                let result = try Attack.run(network, x: x, labels: targets, imageIndices: batch, settings: attack,
                                            seed: common.seed)
                try work.append(AdversarialRows(clean: x, result: result, indices: batch, labels: labels))
                zeroGradients += result.zeroGradientCount
                progress.advance(by: batch.count)
            }
            let (cleanCorrect, advCorrect) = try run.run { file in
                let writer = try AdversarialWriter(file: file, imageSize: imageSet.imageSize, settings: attack,
                                                   sourceImages: images, model: model, split: split.rawValue,
                                                   labelMode: label.rawValue)
                try work.copy(into: writer)
                let (cleanCorrect, advCorrect) = try writer.correct
                try file.setAttribute("fingerprint", .string(run.fingerprint))
                try file.setAttribute("clean_accuracy", .double(Double(cleanCorrect) / Double(indices.count)))
                try file.setAttribute("robust_accuracy", .double(Double(advCorrect) / Double(indices.count)))
                return (cleanCorrect, advCorrect)
            }
            try work.removeAll()
            progress.finish()
            if zeroGradients * 20 > indices.count {
                Log.warning("\(zeroGradients) of \(indices.count) images had an all-zero input gradient at the first step: "
                            + "the model may mask its gradients, so this attack can overstate its robustness")
            }
            table.append(String(format: "%-8@ %-6@ %6d %9.4f %9.4f %8.1f", epsilon.text as NSString,
                                attack.method.rawValue as NSString, attack.steps,
                                Double(cleanCorrect) / Double(indices.count), Double(advCorrect) / Double(indices.count),
                                progress.rate))
        }
        print("eps      method  steps     clean    robust    img/s")
        table.forEach { print($0) }
    }
}
