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
struct AttackStage: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "attack",
        abstract: "Generate adversarial images (IFGSM, PGD, APGD-CE, APGD-T, Square, AutoAttack under an L∞ budget; C&W-L2, DeepFool under an L2 budget; pixels in [0,1]) and report robust accuracy per budget.",
        discussion: """
            IFGSM (paper eq. 1): x ← clip_[0,1](clip_{x±eps}(x + α·sign(∇ₓL))), from the clean image,
            α = 1/255 and steps = ceil(min(eps·255 + 4, 1.25·eps·255)) by default (Kurakin et al.).
            PGD: uniform random start in the eps-ball, 10 steps of α = 2.5·eps/steps by default;
            with --restarts, each image keeps its worst case.
            apgd-ce / apgd-dlr: APGD (Croce & Hein 2020) with the cross-entropy loss / the targeted
            DLR loss over the top --targets classes (APGD-T), 100 iterations by default. square:
            Square Attack, score-based, --queries 5000. autoattack: APGD-CE, APGD-T, then Square on
            what is still robust (AutoAttack's standard version without FAB-T). cw-l2 (binary search
            over c) and deepfool find minimal L2 perturbations; --l2-eps is the budget under which a
            found perturbation counts. docs/attacks.md has every setting and the reference checks.
            The model runs in eval mode, so results do not depend on --batch-size. One output file per
            budget: with one, --output is the file; with several, --output is a directory and files are
            named <model>-eps<e>.h5 (<model>-l2eps<e>.h5 for L2 budgets) with e as written on the command
            line. With --shard i/n only that contiguous part of the split is attacked (per-image random
            streams make every image's result the same as in an unsharded run); merge-shards joins the
            parts, which in directory mode are named <model>-eps<e>.part<i>of<n>.h5.
            --target (ifgsm, pgd) steers each image to a counter-class instead: the class nearest to or farthest
            from its true class by the L2-normalised class attribute vectors φ, a named class (class:<name>; images
            of that class are skipped and counted), or a random other class; the steps descend the target's
            cross-entropy. The file then holds `targets` (−1 for a skipped image) and the success rate (the
            share of attacked images classified as their target), docs/explain.md.
            """)

    @Option(help: "The dataset (prepare-data output).")
    var images: String
    @Option(help: "The model file to attack.")
    var model: String
    @Option(parsing: .upToNextOption, help: "L∞ budgets in [0,1] pixel units, e.g. 0.01 0.06 0.12 (the L∞ attacks).",
            transform: Epsilon.parse)
    var eps: [Epsilon] = []
    @Option(name: .customLong("l2-eps"), parsing: .upToNextOption,
            help: "L2 budgets (‖x_adv − x‖₂ with pixels in [0,1]), e.g. 0.5 1 (cw-l2 and deepfool).", transform: AttackBudget.parseL2)
    var l2Eps: [AttackBudget] = []
    @Option(help: "Split to attack: train, val or test.")
    var split = DataSplit.test
    @Option(help: "Attack: \(AttackMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var method = AttackMethod.ifgsm
    @Option(help: "Steps (default: Kurakin's rule for ifgsm, 10 for pgd, 100 for APGD and autoattack, 50 for cw-l2 and deepfool).")
    var steps: Int?
    @Option(help: "Step size α of ifgsm and pgd (default: 1/255 for ifgsm, 2.5·eps/steps for pgd).")
    var alpha: Float?
    @Option(help: "Restarts of pgd, apgd-ce, apgd-dlr and square (the per-image worst case is kept).")
    var restarts: Int?
    @Option(help: "Target classes of apgd-dlr and autoattack's APGD-T (default: 9, or the model's classes − 1 if fewer).")
    var targets: Int?
    @Option(help: "Queries of square and autoattack's Square (default 5000).")
    var queries: Int?
    @Option(name: .customLong("p-init"), help: "Initial fraction of pixels Square changes per query (default 0.8).")
    var pInit: Float?
    @Option(help: "cw-l2: binary-search steps over c (default 5).")
    var searchSteps: Int?
    @Option(help: "cw-l2: initial c (default 1).")
    var initialConst: Float?
    @Option(help: "cw-l2: Adam learning rate (default 0.01).")
    var learningRate: Float?
    @Option(help: "cw-l2: margin κ (default 0).")
    var confidence: Float?
    @Option(help: "deepfool: overshoot per step (default 0.02).")
    var overshoot: Float?
    @Option(help: "Attack away from the true label or from the model's clean prediction.")
    var label = LabelMode.true
    @Option(help: "Counterfactual attack towards a counter-class: nearest, farthest (by the class attribute vectors), random, or class:<name> (ifgsm and pgd).")
    var target: String?
    @Option(help: "Images per batch (results do not depend on it).")
    var batchSize = 128
    @Option(help: "Output file (one budget) or directory (several).")
    var output: String
    @Flag(help: "Continue an interrupted attack from <output>.checkpoint if it matches these settings and inputs.")
    var resume = false
    @OptionGroup var sharding: ShardOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var common: CommonOptions

    /// The budgets given, and the option that gave them.
    var budgets: [AttackBudget] { method.norm == .l2 ? l2Eps : eps.map(AttackBudget.init) }
    var budgetOption: String { method.norm == .l2 ? "--l2-eps" : "--eps" }

    func validate() throws {
        switch method.norm {
        case .linf:
            guard l2Eps.isEmpty else {
                throw ValidationError("--l2-eps is an L2 budget, but \(method.rawValue) is an L∞ attack: give --eps")
            }
            guard !eps.isEmpty else { throw ValidationError("give at least one --eps") }
        case .l2:
            guard eps.isEmpty else {
                throw ValidationError("--eps is an L∞ budget, but \(method.rawValue) is an L2 attack: give --l2-eps")
            }
            guard !l2Eps.isEmpty else { throw ValidationError("\(method.rawValue) is an L2 attack: give at least one --l2-eps") }
        }
        let uses: [(String, Bool, [AttackMethod])] = [
            ("--alpha", alpha != nil, [.ifgsm, .pgd]),
            ("--restarts", restarts != nil, [.pgd, .apgdCE, .apgdDLR, .square]),
            ("--targets", targets != nil, [.apgdDLR, .autoattack]),
            ("--queries", queries != nil, [.square, .autoattack]),
            ("--p-init", pInit != nil, [.square, .autoattack]),
            ("--search-steps", searchSteps != nil, [.cwL2]), ("--initial-const", initialConst != nil, [.cwL2]),
            ("--learning-rate", learningRate != nil, [.cwL2]), ("--confidence", confidence != nil, [.cwL2]),
            ("--overshoot", overshoot != nil, [.deepfool]),
        ]
        for (option, given, methods) in uses where given && !methods.contains(method) {
            throw ValidationError("\(option) does not apply to --method \(method.rawValue) (only to \(methods.map(\.rawValue).joined(separator: ", ")))")
        }
        for budget in budgets {
            if method == .pgd, budget.value == 0, alpha == nil {
                throw ValidationError("--eps 0 with --method pgd: PGD's step size is 2.5·eps/steps, so eps must be positive "
                                      + "(an eps-0 attack leaves the images as they are; give --alpha to force one)")
            }
            do { try settings(eps: budget.value, classes: nil).validate() } catch let error as StageError {
                throw ValidationError("\(budgetOption) \(budget.text): \(error.message)")
            }
        }
        guard (1...65536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        if let target {
            guard CounterTarget(target) != nil else {
                throw ValidationError("--target '\(target)': expected nearest, farthest, random or class:<name>")
            }
            guard method == .ifgsm || method == .pgd else {
                throw ValidationError("--target applies to --method ifgsm and pgd, not \(method.rawValue)")
            }
            guard label == .true else { throw ValidationError("--target steers the true class's images: --label predicted does not apply") }
            guard sharding.value == nil else { throw ValidationError("--target cannot be sharded (--shard): run it whole") }
        }
        var isDirectory: ObjCBool = false
        if budgets.count > 1, FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("with several \(budgetOption), --output names a directory (one file per budget), "
                                  + "but \(output) is an existing file")
        }
    }

    /// The settings at budget `eps`; `classes` (the model's) sets the default number of targets.
    func settings(eps: Float, classes: Int?) -> AttackSettings {
        let defaultTargets = min(9, max((classes ?? 10) - 1, 1))
        var s: AttackSettings
        switch method {
        case .ifgsm: s = .ifgsm(eps: eps, alpha: alpha, steps: steps)
        case .pgd: s = .pgd(eps: eps, steps: steps ?? 10, alpha: alpha, restarts: restarts ?? 1)
        case .apgdCE: s = .apgdCE(eps: eps, steps: steps ?? 100, restarts: restarts ?? 1)
        case .apgdDLR: s = .apgdDLR(eps: eps, targets: targets ?? defaultTargets, steps: steps ?? 100, restarts: restarts ?? 1)
        case .square: s = .square(eps: eps, queries: queries ?? 5000, pInit: pInit ?? 0.8, restarts: restarts ?? 1)
        case .cwL2:
            s = .cwL2(eps: eps, steps: steps ?? 50, searchSteps: searchSteps ?? 5, initialConst: initialConst ?? 1,
                      learningRate: learningRate ?? 0.01, confidence: confidence ?? 0)
        case .deepfool: s = .deepfool(eps: eps, steps: steps ?? 50, overshoot: overshoot ?? 0.02)
        case .autoattack:
            s = .autoattack(eps: eps, targets: targets ?? defaultTargets, steps: steps ?? 100, queries: queries ?? 5000)
            if let pInit { s.pInit = pInit }
        }
        return s
    }

    func run() throws {
        try engine.configure(threads: common.threads)
        Log.verbose("engine: \(Engine.backendDescription)")
        let imageSet = try ImageSet(images)
        let network = try ResNet.load(from: model)
        try imageSet.checkCompatible(with: network, modelPath: model)
        let splitIndices = imageSet.indices(of: split)
        guard !splitIndices.isEmpty else { throw StageError("\(images): the \(split) split is empty") }
        let indices = Array(splitIndices[sharding.rows(of: splitIndices.count, batch: batchSize)])
        let modelFile = OutputPaths.fileName(of: model)
        let modelName = modelFile.lastIndex(of: ".").map { $0 == modelFile.startIndex ? modelFile : String(modelFile[..<$0]) } ?? modelFile
        let classes = network.config.numClasses
        do { try settings(eps: 0, classes: classes).validate(classes: classes) } catch let error as StageError {
            throw ValidationError("\(model): \(error.message)")
        }

        // The counter-class of every attacked image (−1: skipped, its own class was named).
        let counterTarget = target.flatMap(CounterTarget.init)
        var counterClasses: [Int] = []
        if let counterTarget {
            do {
                counterClasses = try counterTarget.classes(labels: indices.map { Int(imageSet.labels[$0]) }, rows: indices,
                                                           classAttributes: try imageSet.classAttributes(),
                                                           classNames: imageSet.classNames, seed: common.seed)
            } catch let error as CounterTargetError {
                throw ValidationError("\(images): \(error.description)")
            }
        }
        let skipped = counterClasses.filter { $0 < 0 }.count
        if skipped > 0 {
            Log.info("--target \(counterTarget!): \(skipped) of \(indices.count) images are of that class; skipped (stored clean, target −1)")
        }

        var table: [String] = []
        for budget in budgets {
            let attack = settings(eps: budget.value, classes: classes)
            let partSuffix = sharding.value.map { ".part\($0.index)of\($0.count)" } ?? ""
            let target = budgets.count == 1 ? output : OutputPaths.join(output, "\(modelName)-\(budget.fileTag)\(partSuffix).h5")
            var parameters = attack.parameters
            parameters.merge(["split": split.rawValue, "label": label.rawValue, "batch_size": batchSize]) { $1 }
            if let counterTarget { parameters["target"] = counterTarget.description }
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
            let progress = Progress("attack \(attack.method.rawValue) \(budget)", total: indices.count - work.rowsDone)
            var zeroGradients = 0
            for start in stride(from: work.rowsDone, to: indices.count, by: batchSize) {
                let batch = Array(indices[start..<min(start + batchSize, indices.count)])
                let x = try imageSet.batch(batch)
                let labels = batch.map { Int(imageSet.labels[$0]) }
                let targets = label == .true ? labels : try network.predict(x)
                let result = counterTarget == nil
                    ? try Attack.run(network, x: x, labels: targets, imageIndices: batch, settings: attack, seed: common.seed)
                    : try Attack.runTargeted(network, x: x, labels: labels, targets: Array(counterClasses[start..<(start + batch.count)]),
                                             imageIndices: batch, settings: attack, seed: common.seed)
                try work.append(AdversarialRows(clean: x, result: result, indices: batch, labels: labels))
                zeroGradients += result.zeroGradientCount
                progress.advance(by: batch.count)
            }
            var brokenBy: [Int32: Int] = [:]
            var targetSuccess = 0
            let (cleanCorrect, advCorrect) = try run.run { file in
                let writer = try AdversarialWriter(file: file, imageSize: imageSet.imageSize, settings: attack,
                                                   sourceImages: images, model: model, split: split.rawValue,
                                                   labelMode: label.rawValue)
                try work.copy(into: writer)
                for value in try file.read("broken_by", as: Int32.self).data { brokenBy[value, default: 0] += 1 }
                let (cleanCorrect, advCorrect) = try writer.correct
                try file.setAttribute("fingerprint", .string(run.fingerprint))
                try file.setAttribute("clean_accuracy", .double(Double(cleanCorrect) / Double(indices.count)))
                try file.setAttribute("robust_accuracy", .double(Double(advCorrect) / Double(indices.count)))
                if let counterTarget {
                    let reached = try file.read("adv_predictions", as: Int32.self).data
                    targetSuccess = zip(reached, counterClasses).filter { $1 >= 0 && Int($0) == $1 }.count
                    try file.write("targets", counterClasses.map(Int32.init), shape: [counterClasses.count])
                    try file.setAttribute("target", .string(counterTarget.description))
                    try file.setAttribute("target_attacked", .int(Int64(indices.count - skipped)))
                    try file.setAttribute("target_skipped", .int(Int64(skipped)))
                    try file.setAttribute("target_success", .int(Int64(targetSuccess)))
                    try file.setAttribute("target_success_rate",
                                          .double(indices.count > skipped ? Double(targetSuccess) / Double(indices.count - skipped) : .nan))
                }
                return (cleanCorrect, advCorrect)
            }
            try work.removeAll()
            progress.finish()
            if zeroGradients * 20 > indices.count {
                Log.warning("\(zeroGradients) of \(indices.count) images had an all-zero input gradient at the first step: "
                            + "the model may mask its gradients, so this attack can overstate its robustness")
            }
            if attack.method == .autoattack, let blackBox = brokenBy[3], blackBox > 0 {
                Log.warning("Square (black-box) broke \(blackBox) of \(indices.count) images that APGD-CE and APGD-T (white-box) "
                            + "did not: the model may mask its gradients, so gradient-based attacks overstate its robustness")
            }
            if attack.method == .autoattack {
                Log.info("autoattack \(budget): broken by APGD-CE \(brokenBy[1] ?? 0), APGD-T \(brokenBy[2] ?? 0), "
                         + "Square \(brokenBy[3] ?? 0) of \(indices.count)")
            }
            table.append(String(format: "%-8@ %-10@ %6d %9.4f %9.4f %8.1f", budget.text as NSString,
                                attack.method.rawValue as NSString, attack.steps,
                                Double(cleanCorrect) / Double(indices.count), Double(advCorrect) / Double(indices.count),
                                progress.rate)
                         + (counterTarget == nil ? "" : String(format: " %9.4f", Double(targetSuccess) / Double(max(indices.count - skipped, 1)))))
        }
        print((method.norm == .l2 ? "l2eps    method      steps     clean    robust    img/s"
                                  : "eps      method      steps     clean    robust    img/s") + (counterTarget == nil ? "" : "  target-hit"))
        table.forEach { print($0) }
    }
}
