import ArgumentParser
import Foundation
import HDF5Store
import PipelineKit

/// One adversarial file's per-image outcome.
struct AttackOutcome {
    let path: String
    let method: String
    let model: String
    let eps: String
    let index: [Int64]
    let labels: [Int32]
    let clean: [Int32]
    let adversarial: [Int32]
    let brokenBy: [Int32]
    /// The smallest fooling perturbation found per image (+∞: none), in the file's norm.
    let minimalNorm: [Float]

    init(_ path: String) throws {
        let file = try H5File.open(path, mode: .readOnly)
        defer { file.close() }
        self.path = path
        method = try file.attribute("method").stringValue ?? "?"
        let modelPath = try file.attribute("model").stringValue ?? "?"
        model = DatasetLayout.artifactName(of: modelPath)
        let value = try file.attribute("eps").doubleValue ?? .nan
        let norm = file.hasAttribute("norm") ? try file.attribute("norm").stringValue ?? "linf" : "linf"
        eps = (norm == "l2" ? "l2-" : "") + Epsilon.trimmed(value, decimals: 6)
        index = try file.read("index", as: Int64.self).data
        labels = try file.read("labels", as: Int32.self).data
        clean = try file.read("clean_predictions", as: Int32.self).data
        adversarial = try file.read("adv_predictions", as: Int32.self).data
        minimalNorm = file.isDataset("minimal_norm") ? try file.read("minimal_norm", as: Float.self).data
            : [Float](repeating: .infinity, count: index.count)
        brokenBy = file.isDataset("broken_by") ? try file.read("broken_by", as: Int32.self).data : [Int32](repeating: 0, count: index.count)
    }

    var robust: [Bool] { zip(adversarial, labels).map { $0 == $1 } }
    var cleanAccuracy: Double { Double(zip(clean, labels).filter { $0 == $1 }.count) / Double(max(labels.count, 1)) }
    var robustAccuracy: Double { Double(robust.filter { $0 }.count) / Double(max(labels.count, 1)) }
    /// Images broken by a black-box search (Square alone, or AutoAttack's Square stage).
    var blackBoxBroken: [Bool] { labels.indices.map { !robust[$0] && (method == "square" || brokenBy[$0] == 3) } }
    var isBlackBox: Bool { method == "square" }
    var isMinimalNorm: Bool { method == "cw-l2" || method == "deepfool" }
}

/// The robustness verdict over several attacks (docs/attacks.md § Through the pipeline): per
/// model and budget, each attack's robust accuracy, the worst case per image (an image is
/// robust only if every attack left it correctly classified), the general classifier's
/// robust ratio R = L_R / L_S from the worst cases, and the gradient-masking check: images a
/// black-box search (Square) broke although every white-box attack run on them failed.
@main
struct AttackSummary: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attack-summary",
        abstract: "Worst-case robust accuracy and R over several attacks' adversarial files, with the gradient-masking check.")

    @Option(parsing: .upToNextOption, help: "Adversarial files (attack outputs) of one dataset, any models, budgets and methods.")
    var adversarial: [String]
    @Option(help: "JSON output.")
    var output: String
    @Option(help: "The images.h5 the files were made from: with it, minimal-norm attacks (cw-l2, deepfool) also give the closest class pairs and the attributes that separate them.")
    var images: String?
    @Option(help: "Class pairs to list per minimal-norm file.")
    var pairs = 5
    @Option(help: "Only class pairs with at least this many moved images are listed (a median over one image says little).")
    var minImages = 1
    @Option(help: "A minimal-norm attack's file (cw-l2 or deepfool, best run with an L2 budget no image reaches) for the closest class pairs only: unlike --adversarial it takes no part in the worst case. Needs --images.")
    var minimal: String?
    @Option(help: "The model's predicted attributes (predict-attributes) on the --minimal file's adversarial images: each pair then also lists the attributes that moved. Needs --clean-attributes.")
    var minimalAttributes: String?
    @Option(help: "The same model's predicted attributes on the clean images (e.g. attributes/standard-test.h5).")
    var cleanAttributes: String?
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard pairs >= 1 else { throw ValidationError("--pairs must be at least 1") }
        guard minImages >= 1 else { throw ValidationError("--min-images must be at least 1") }
        if minimal != nil && images == nil { throw ValidationError("--minimal needs --images (the class names and attribute vectors)") }
        if (minimalAttributes == nil) != (cleanAttributes == nil) {
            throw ValidationError("--minimal-attributes and --clean-attributes go together")
        }
        if minimalAttributes != nil && minimal == nil { throw ValidationError("--minimal-attributes needs --minimal") }
    }

    func run() throws {
        let outcomes = try adversarial.map(AttackOutcome.init)
        var groups: [String: [AttackOutcome]] = [:]
        for o in outcomes { groups["\(o.model)|\(o.eps)", default: []].append(o) }
        var rows: [[String: Any]] = []
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
        var text = [pad("model", 18) + pad("eps", 8) + pad("robust accuracy per attack", 44) + "worst   black-box only"]
        var worstByKey: [String: Double] = [:]
        for key in groups.keys.sorted() {
            let group = groups[key]!
            let first = group[0]
            for o in group.dropFirst() where o.index != first.index || o.labels != first.labels {
                throw StageError("\(o.path): its images are not those of \(first.path) (another split, shard or images.h5)")
            }
            let n = first.labels.count
            let worstRobust = (0..<n).filter { i in group.allSatisfy { $0.robust[i] } }.count
            let whiteBox = group.filter { !$0.isBlackBox }
            let masked = (0..<n).filter { i in
                group.contains { $0.blackBoxBroken[i] } && !whiteBox.isEmpty
                    && whiteBox.allSatisfy { w in w.robust[i] || w.blackBoxBroken[i] }
            }.count
            let worst = Double(worstRobust) / Double(max(n, 1))
            worstByKey[key] = worst
            rows.append(["model": first.model, "eps": first.eps, "images": n, "clean_accuracy": first.cleanAccuracy,
                         "robust_accuracy": Dictionary(uniqueKeysWithValues: group.map { ($0.method, $0.robustAccuracy) }),
                         "worst_case_robust_accuracy": worst, "black_box_only_broken": masked])
            let perAttack = group.map { "\($0.method) \(String(format: "%.4f", $0.robustAccuracy))" }.joined(separator: ", ")
            text.append(pad(first.model, 18) + pad(first.eps, 8) + pad(perAttack, 44) + String(format: "%.4f  %d", worst, masked))
            if masked > 0 {
                Log.warning("\(first.model) eps \(first.eps): a black-box attack broke \(masked) of \(n) images on which every "
                            + "white-box attack failed: the model may mask its gradients")
            }
        }
        // R of the general classifier from the worst cases: the robust model at eps e against the standard one.
        var ratios: [[String: Any]] = []
        for key in worstByKey.keys.sorted() where key.hasPrefix("robust-") {
            let eps = String(key.split(separator: "|")[1])
            guard let standardWorst = worstByKey["standard|\(eps)"], let standard = groups["standard|\(eps)"]?.first else { continue }
            let cleanAccuracy = standard.cleanAccuracy
            let lossStandard = cleanAccuracy - standardWorst
            let lossRobust = cleanAccuracy - worstByKey[key]!
            let r = lossStandard > 0 ? lossRobust / lossStandard : .nan
            ratios.append(["model": String(key.split(separator: "|")[0]), "eps": eps, "worst_case_robust_ratio": r])
            text.append("worst-case R (general classifier) \(key.replacingOccurrences(of: "|", with: " eps ")): "
                        + String(format: "%.3f", r))
        }
        var closest: [[String: Any]] = []
        if let images {
            let classes = try ClassProfiles(images)
            var minimalFiles: [(AttackOutcome, [[Float]]?, [[Float]]?)] = outcomes
                .filter { $0.isMinimalNorm }.map { ($0, nil, nil) }
            if let minimal {
                let o = try AttackOutcome(minimal)
                guard o.isMinimalNorm else { throw StageError("\(minimal): method \(o.method), not a minimal-norm attack (cw-l2, deepfool)") }
                var adversarial: [[Float]]?, clean: [[Float]]?
                if let minimalAttributes, let cleanAttributes {
                    let predicted = try PredictedAttributes(minimalAttributes, attributes: classes.attributeNames.count)
                    guard predicted.index == o.index else {
                        throw StageError("\(minimalAttributes): its images are not those of \(minimal) (predict the attributes of that file's features)")
                    }
                    adversarial = predicted.rows
                    clean = try PredictedAttributes(cleanAttributes, attributes: classes.attributeNames.count).rows(for: o.index)
                }
                minimalFiles.append((o, adversarial, clean))
            }
            for (o, adversarial, clean) in minimalFiles {
                let table = classes.closestPairs(o, count: pairs, minImages: minImages, adversarial: adversarial, clean: clean)
                closest.append(["model": o.model, "eps": o.eps, "method": o.method, "images": o.labels.count, "min_images": minImages,
                                "moved": o.labels.indices.filter { o.clean[$0] == o.labels[$0] && o.adversarial[$0] != o.labels[$0] }.count,
                                "pairs": table.map(\.json)])
                let movedText = adversarial == nil ? ""
                    : "; moved: the largest mean change of the predicted attributes, + = raised by the attack, * = toward the wrong class's value, φ = the attribute's φ(first) − φ(second)"
                text.append("\(o.method) on \(o.model): the closest class pairs with at least \(minImages) image\(minImages == 1 ? "" : "s") "
                            + "(median smallest L2 perturbation that moved an image of the first class to the second; separate: the attributes "
                            + "whose class values differ most, + = the first class has more\(movedText))")
                for pair in table { text.append("  " + pair.line) }
            }
        }
        let document: [String: Any] = ["groups": rows, "robust_ratios": ratios, "inputs": adversarial, "closest_pairs": closest]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try AtomicOutput.write(to: output) { temporary in try data.write(to: URL(fileURLWithPath: temporary)) }
        print(text.joined(separator: "\n"))
    }
}
