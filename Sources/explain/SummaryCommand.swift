import ArgumentParser
import Foundation
import HDF5Store
import PipelineKit
import Verdicts

/// The per-image outcomes of one explanation file that the summary's statistics are made of.
struct ExplanationOutcomes {
    let path: String
    /// The dataset folder's name (`<DATA>/<ds>/explanations/<file>`).
    let dataset: String
    /// The explained model (`standard`, `robust-eps<e>`) and the counter-class choice.
    let model: String
    let target: String
    let eps: String
    let index: [Int64]
    /// Attacked and reached the counter-class (f), per image.
    let attacked: [Bool]
    let reached: [Bool]
    let minimalSize: [Int32]
    let counterCount: [Int32]
    let belongs: [UInt8], lacks: [UInt8]
    let belongsBaseline: [Float], lacksBaseline: [Float]
    let largestBelong: [Float], largestLacked: [Float]
    let k: Int
    let hasImageTruth: Bool
    /// Grounding codes of the rising counter-attributes (CounterGrounding), when they were grounded.
    let groundedImage: [UInt8]?, groundedExample: [UInt8]?

    static func read(_ path: String) throws -> ExplanationOutcomes {
        let file = try H5File.open(path)
        defer { file.close() }
        let index = try file.read("index", as: Int64.self, expectingShape: [nil]).data
        let n = index.count
        let targets = try file.read("targets", as: Int32.self, expectingShape: [n]).data
        let reachedClass = try file.read("general_adversarial", as: Int32.self, expectingShape: [n]).data
        let belongs = try file.read("belongs", as: UInt8.self, expectingShape: [n, nil])
        let k = belongs.shape[1]
        let adversarial = try file.attribute("adversarial").stringValue ?? ""
        let name = DatasetLayout.artifactName(of: path)
        let target = try file.attribute("target").stringValue ?? ""
        let tag = "-\(CounterTargetName.fileTag(target))-"
        guard let cut = name.range(of: tag) else {
            throw StageError("\(path): expected a name <model>-\(CounterTargetName.fileTag(target))-eps<e>.h5 (made from \(adversarial))")
        }
        let folder = ((path as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        return ExplanationOutcomes(
            path: path, dataset: (folder as NSString).lastPathComponent, model: String(name[..<cut.lowerBound]), target: target,
            eps: String(name[cut.upperBound...]).replacingOccurrences(of: "eps", with: ""), index: index,
            attacked: targets.map { $0 >= 0 }, reached: zip(targets, reachedClass).map { $0 >= 0 && $0 == $1 },
            minimalSize: try file.read("minimal_set_size", as: Int32.self, expectingShape: [n]).data,
            counterCount: try file.read("counter_count", as: Int32.self, expectingShape: [n]).data,
            belongs: belongs.data, lacks: try file.read("image_lacks", as: UInt8.self, expectingShape: [n, k]).data,
            belongsBaseline: try file.read("belongs_baseline", as: Float.self, expectingShape: [n]).data,
            lacksBaseline: try file.read("image_lacks_baseline", as: Float.self, expectingShape: [n]).data,
            largestBelong: try file.read("largest_moves_belong", as: Float.self, expectingShape: [n]).data,
            largestLacked: try file.read("largest_moves_lacked", as: Float.self, expectingShape: [n]).data,
            k: k, hasImageTruth: (try file.attribute("has_image_truth").intValue ?? 0) == 1,
            groundedImage: file.exists("grounded_counter_image") ? try file.read("grounded_counter_image", as: UInt8.self, expectingShape: [n, k]).data : nil,
            groundedExample: file.exists("grounded_counter_example") ? try file.read("grounded_counter_example", as: UInt8.self, expectingShape: [n, k]).data : nil)
    }

    // The statistics, each under one weight per test image (docs/explain.md § Checks).

    /// Share of attacked images classified as their counter-class.
    func successRate(_ w: [Double]) -> Double {
        ImageBootstrap.mean(attacked.indices.map { attacked[$0] ? (reached[$0] ? 1 : 0) : .nan }, weights: w)
    }
    /// Mean size of the minimal counter-attribute set over the images that reached their
    /// counter-class and have one.
    func meanMinimalSize(_ w: [Double]) -> Double {
        ImageBootstrap.mean(reached.indices.map { reached[$0] && minimalSize[$0] >= 0 ? Double(minimalSize[$0]) : .nan }, weights: w)
    }
    /// Share of the images that reached their counter-class for which F flips with a subset.
    func minimalSetFound(_ w: [Double]) -> Double {
        ImageBootstrap.mean(reached.indices.map { reached[$0] ? (minimalSize[$0] >= 0 ? 1 : 0) : .nan }, weights: w)
    }
    /// Pooled share of the top-k counter-attributes (of images that reached their counter-class)
    /// with `flags` 1 (0: no, 2: no truth).
    func share(_ flags: [UInt8], _ w: [Double]) -> Double {
        var hits = 0.0, total = 0.0
        for i in reached.indices where reached[i] && w[i] > 0 {
            for j in 0..<min(k, Int(counterCount[i])) where flags[i * k + j] < 2 {
                total += w[i]
                hits += w[i] * Double(flags[i * k + j])
            }
        }
        return total > 0 ? hits / total : .nan
    }
    /// Pooled share of the scorable rising counter-attributes (of images that reached their
    /// counter-class) that are grounded (codes 0 and 1 count, CounterGrounding).
    func groundedShare(_ codes: [UInt8], _ w: [Double]) -> Double {
        var hits = 0.0, total = 0.0
        for i in reached.indices where reached[i] && w[i] > 0 {
            for j in 0..<k where codes[i * k + j] <= 1 {
                total += w[i]
                hits += w[i] * Double(codes[i * k + j])
            }
        }
        return total > 0 ? hits / total : .nan
    }
    /// The same share over every attribute that moved (the baseline), mean over images.
    func baseline(_ values: [Float], _ w: [Double]) -> Double {
        ImageBootstrap.mean(reached.indices.map { reached[$0] ? Double(values[$0]) : .nan }, weights: w)
    }
}

/// File-name tags of `attack --target` modes (as CounterTarget.fileTag spells them).
enum CounterTargetName {
    static func fileTag(_ mode: String) -> String { mode.hasPrefix("class:") ? "class-" + mode.dropFirst(6) : mode }
}

/// `explain summary`: the follow-up's comparisons with bootstrap intervals over test images.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "The counterfactual checks with 95% bootstrap intervals: shares of counter-attributes that belong to the counter-class and that the image lacks, minimal set sizes close vs different counter-class, standard vs robust, fine vs coarse.")

    @Option(parsing: .upToNextOption, help: "Explanation files (explain counterfactual), of one or more datasets.")
    var explanations: [String]
    @Option(help: "The fine-grained dataset's folder name, for fine vs coarse.")
    var fine: String?
    @Option(help: "The coarse dataset's folder name, for fine vs coarse.")
    var coarse: String?
    @Option(help: "Bootstrap resamples.")
    var bootstrapResamples = 2000
    @Option(help: "Output JSON file (the text goes to stdout).")
    var output: String
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard !explanations.isEmpty else { throw ValidationError("give at least one --explanations file") }
        guard (100...100_000).contains(bootstrapResamples) else { throw ValidationError("--bootstrap-resamples must be in 100...100000") }
    }

    func run() throws {
        let files = try explanations.map(ExplanationOutcomes.read)
        let settings = BootstrapSettings(resamples: bootstrapResamples, seed: common.seed)
        var lines: [String] = ["Counterfactual explanations (docs/explain.md): 95% bootstrap intervals over test images "
                               + "(\(bootstrapResamples) resamples); one seed, so seed-to-seed variation is not covered."]
        var json: [[String: Any]] = []
        func record(_ label: String, _ b: (value: Double, lower: Double, upper: Double), digits: Int = 3) {
            func f(_ x: Double) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "n/a" }
            lines.append("  \(label): \(f(b.value)) [\(f(b.lower)), \(f(b.upper))]")
            json.append(["statistic": label, "value": b.value, "lower": b.lower, "upper": b.upper]
                            .mapValues { ($0 as? Double).map { $0.isFinite ? $0 as Any : "nan" as Any } ?? $0 })
        }
        // One image set per dataset: its files must list the same test images.
        let datasets = Array(Set(files.map(\.dataset))).sorted()
        for dataset in datasets {
            let mine = files.filter { $0.dataset == dataset }
            guard mine.allSatisfy({ $0.index == mine[0].index }) else {
                throw StageError("\(dataset): its explanation files do not list the same test images (\(mine.map(\.path)))")
            }
            let n = mine[0].index.count
            func one(_ statistic: ([Double]) -> Double) -> (value: Double, lower: Double, upper: Double) {
                ImageBootstrap.interval(imageCount: n, settings: settings, statistic)
            }
            lines.append("")
            lines.append("\(dataset) (\(n) test images)")
            for f in mine {
                lines.append(" \(f.model), counter-class \(f.target), eps \(f.eps):")
                record("targeted success rate", one { f.successRate($0) })
                record("minimal set found (F flips to the counter-class)",
                       one { f.minimalSetFound($0) })
                record("minimal counter-attribute set, mean size", one { f.meanMinimalSize($0) }, digits: 2)
                // Each share beside its baselines (docs/explain.md § counter-attributes).
                var checks = [("share of counter-attributes that belong to the counter-class (φ)", f.belongs, f.belongsBaseline, f.largestBelong)]
                if f.hasImageTruth {
                    checks.append(("share of counter-attributes the image truly lacks (image_attributes)", f.lacks, f.lacksBaseline, f.largestLacked))
                }
                for (label, flags, baseline, largest) in checks {
                    record(label, one { f.share(flags, $0) })
                    record("  the same for every moved attribute (baseline)", one { f.baseline(baseline, $0) })
                    record("  difference counter-attributes − baseline", one { f.share(flags, $0) - f.baseline(baseline, $0) })
                    record("  the same for the top \(f.k) attributes by size of move alone (no φ in the ranking)", one { f.baseline(largest, $0) })
                }
                if let onImage = f.groundedImage, let onExample = f.groundedExample {
                    record("rising counter-attributes grounded on the counter-image (map peak on the part, image has it)",
                           one { f.groundedShare(onImage, $0) })
                    record("  on the nearest counter-example (a training image of the counter-class)", one { f.groundedShare(onExample, $0) })
                    record("  difference counter-example − counter-image", one { f.groundedShare(onExample, $0) - f.groundedShare(onImage, $0) })
                }
            }
            // Paired comparisons on the same test images.
            func pick(_ model: (String) -> Bool, _ target: String) -> [ExplanationOutcomes] {
                mine.filter { model($0.model) && $0.target == target }
            }
            let standard = { (m: String) in m == "standard" }, robust = { (m: String) in m.hasPrefix("robust") }
            lines.append(" comparisons (paired over the same images), minimal set size:")
            for model in [("standard", standard), ("robust", robust)] {
                for near in pick(model.1, "nearest") {
                    for far in pick(model.1, "farthest") where far.eps == near.eps && far.model == near.model {
                        record("\(near.model) eps \(near.eps): different (farthest) − close (nearest) counter-class",
                               one { far.meanMinimalSize($0) - near.meanMinimalSize($0) }, digits: 2)
                    }
                }
            }
            for target in ["nearest", "farthest"] {
                for s in pick(standard, target) {
                    for r in pick(robust, target) where r.eps == s.eps {
                        record("\(target) eps \(s.eps): robust (\(r.model)) − standard",
                               one { r.meanMinimalSize($0) - s.meanMinimalSize($0) }, digits: 2)
                    }
                }
            }
        }
        if let fine, let coarse {
            let fineFiles = files.filter { $0.dataset == fine }, coarseFiles = files.filter { $0.dataset == coarse }
            if !fineFiles.isEmpty && !coarseFiles.isEmpty {
                lines.append("")
                lines.append("fine (\(fine)) vs coarse (\(coarse)), independent resamples of each set's test images:")
                for f in fineFiles {
                    for g in coarseFiles where g.model == f.model && g.target == f.target && g.eps == f.eps {
                        let counts = [f.index.count, g.index.count]
                        record("\(f.model), \(f.target), eps \(f.eps): minimal set size fine − coarse",
                               ImageBootstrap.interval(imageCounts: counts, settings: settings) { f.meanMinimalSize($0[0]) - g.meanMinimalSize($0[1]) }, digits: 2)
                        record("\(f.model), \(f.target), eps \(f.eps): targeted success fine − coarse",
                               ImageBootstrap.interval(imageCounts: counts, settings: settings) { f.successRate($0[0]) - g.successRate($0[1]) })
                    }
                }
            } else {
                lines.append("")
                lines.append("fine vs coarse: not stated (no explanation files of \(fineFiles.isEmpty ? fine : coarse) given)")
            }
        }
        let text = lines.joined(separator: "\n") + "\n"
        let data = try JSONSerialization.data(withJSONObject: ["schema": 1, "statistics": json, "files": explanations],
                                              options: [.prettyPrinted, .sortedKeys])
        try StageRun.checkOutputIsNotAnInput(output, inputs: explanations)
        try AtomicOutput.write(to: output) { temporary in try data.write(to: URL(fileURLWithPath: temporary)) }
        print(text, terminator: "")
    }
}
