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

    init(_ path: String) throws {
        let file = try H5File.open(path, mode: .readOnly)
        defer { file.close() }
        self.path = path
        method = try file.attribute("method").stringValue ?? "?"
        let modelPath = try file.attribute("model").stringValue ?? "?"
        let name = (modelPath as NSString).lastPathComponent
        model = name.hasSuffix(".h5") ? String(name.dropLast(3)) : name
        let value = try file.attribute("eps").doubleValue ?? .nan
        let norm = file.hasAttribute("norm") ? try file.attribute("norm").stringValue ?? "linf" : "linf"
        eps = (norm == "l2" ? "l2-" : "") + Self.trimmed(value)
        index = try file.read("index", as: Int64.self).data
        labels = try file.read("labels", as: Int32.self).data
        clean = try file.read("clean_predictions", as: Int32.self).data
        adversarial = try file.read("adv_predictions", as: Int32.self).data
        brokenBy = file.isDataset("broken_by") ? try file.read("broken_by", as: Int32.self).data : [Int32](repeating: 0, count: index.count)
    }

    static func trimmed(_ x: Double) -> String {
        var text = String(format: "%.6f", x)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
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
        let document: [String: Any] = ["groups": rows, "robust_ratios": ratios, "inputs": adversarial]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try AtomicOutput.write(to: output) { temporary in try data.write(to: URL(fileURLWithPath: temporary)) }
        print(text.joined(separator: "\n"))
    }
}
