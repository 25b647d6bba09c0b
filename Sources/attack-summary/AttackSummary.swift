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
    @OptionGroup var common: CommonOptions

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
            for o in outcomes where o.method == "cw-l2" || o.method == "deepfool" {
                let table = classes.closestPairs(o, count: pairs)
                closest.append(["model": o.model, "eps": o.eps, "method": o.method, "pairs": table.map(\.json)])
                text.append("\(o.method) on \(o.model): the closest class pairs (median smallest L2 perturbation that moved an image of the "
                            + "first class to the second; attributes by how much the classes' attribute vectors differ)")
                for pair in table { text.append("  " + pair.line) }
            }
        }
        let document: [String: Any] = ["groups": rows, "robust_ratios": ratios, "inputs": adversarial, "closest_pairs": closest]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try AtomicOutput.write(to: output) { temporary in try data.write(to: URL(fileURLWithPath: temporary)) }
        print(text.joined(separator: "\n"))
    }
}

/// One (true, wrong) class pair of a minimal-norm attack: how close the classes are (the median
/// smallest perturbation that moved an image of the true class to the wrong one) and the
/// attributes that separate them (largest |φ(true) − φ(wrong)|, with the sign: + = the true
/// class has more of it).
struct ClassPair {
    let trueClass: String
    let wrongClass: String
    let images: Int
    let medianNorm: Float
    let separating: [(name: String, difference: Float)]

    var json: [String: Any] {
        ["true_class": trueClass, "wrong_class": wrongClass, "images": images, "median_minimal_norm": Double(medianNorm),
         "separating_attributes": separating.map { ["attribute": $0.name, "difference": Double($0.difference)] }]
    }

    var line: String {
        "\(trueClass) → \(wrongClass): \(String(format: "%.4f", medianNorm)) over \(images) image\(images == 1 ? "" : "s"); "
            + separating.map { "\($0.name) \(String(format: "%+.2f", $0.difference))" }.joined(separator: ", ")
    }
}

/// Class names and class-attribute vectors of an images.h5.
struct ClassProfiles {
    let names: [String]
    let attributeNames: [String]
    /// φ, [C][A].
    let attributes: [[Float]]

    init(_ path: String) throws {
        let file = try H5File.open(path, mode: .readOnly)
        defer { file.close() }
        let names = try file.readStrings("class_names")
        let attributeNames = try file.readStrings("attribute_names")
        let a = attributeNames.count
        let matrix = try file.read("class_attributes", as: Float.self, expectingShape: [names.count, a]).data
        self.names = names
        self.attributeNames = attributeNames
        attributes = (0..<names.count).map { Array(matrix[($0 * a)..<(($0 + 1) * a)]) }
    }

    /// The `count` pairs with the smallest median minimal norm over the images the attack moved
    /// to another class within its budget (only those rows record the class reached).
    func closestPairs(_ o: AttackOutcome, count: Int) -> [ClassPair] {
        var norms: [[Int32]: [Float]] = [:]
        for i in o.labels.indices where o.adversarial[i] != o.labels[i] && o.clean[i] == o.labels[i] && o.minimalNorm[i].isFinite {
            norms[[o.labels[i], o.adversarial[i]], default: []].append(o.minimalNorm[i])
        }
        let pairs = norms.map { key, values -> ClassPair in
            let sorted = values.sorted()
            let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            let (t, w) = (Int(key[0]), Int(key[1]))
            let differences = attributeNames.indices.map { (attributeNames[$0], attributes[t][$0] - attributes[w][$0]) }
            let separating = differences.sorted { abs($0.1) > abs($1.1) || (abs($0.1) == abs($1.1) && $0.0 < $1.0) }.prefix(3)
            return ClassPair(trueClass: names[t], wrongClass: names[w], images: values.count, medianNorm: median,
                             separating: separating.map { (name: $0.0, difference: $0.1) })
        }
        return Array(pairs.sorted { ($0.medianNorm, $0.trueClass, $0.wrongClass) < ($1.medianNorm, $1.trueClass, $1.wrongClass) }
            .prefix(count))
    }
}
