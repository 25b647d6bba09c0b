import ArgumentParser
import AttributeSpace
import Foundation
import HDF5Store
import PipelineKit

/// `explain confusions`: which classes an attack (or the clean images) confuses, and in which
/// attributes.
struct ConfusionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confusions",
        abstract: "Confusion matrices (clean and adversarial) of adversarial files, their most frequent (true → predicted) pairs, and per pair the attributes that separate the classes and those that moved.")

    @Option(help: "The dataset (prepare-data output).")
    var images: String
    @Option(parsing: .upToNextOption, help: "Adversarial files (attack output), e.g. the standard and the robust model's at each eps.")
    var adversarial: [String]
    @Option(parsing: .upToNextOption, help: "Per adversarial file, the attacked model's predicted attributes of the clean test images.")
    var cleanAttributes: [String]
    @Option(parsing: .upToNextOption, help: "Per adversarial file, the predicted attributes of its adversarial images.")
    var adversarialAttributes: [String]
    @Option(help: "Most frequent (true → predicted) pairs kept per file.")
    var pairs = 5
    @Option(help: "Separating and moved attributes kept per pair.")
    var topK = 3
    @Option(help: "Output confusions file.")
    var output: String
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard !adversarial.isEmpty else { throw ValidationError("give at least one --adversarial file") }
        guard cleanAttributes.count == adversarial.count, adversarialAttributes.count == adversarial.count else {
            throw ValidationError("give one --clean-attributes and one --adversarial-attributes file per --adversarial file "
                                  + "(\(adversarial.count) adversarial, \(cleanAttributes.count) clean, \(adversarialAttributes.count) adversarial attributes)")
        }
        guard (1...1000).contains(pairs), (1...1000).contains(topK) else { throw ValidationError("--pairs and --top-k must be in 1...1000") }
    }

    func run() throws {
        let facts = try DatasetFacts.read(images)
        let (c, a) = (facts.table.classCount, facts.table.attributeCount)
        let phi = facts.table.values
        let names = adversarial.map { DatasetLayout.artifactName(of: $0) }
        guard Set(names).count == names.count else { throw ValidationError("--adversarial: two files of the same name \(names)") }
        struct Group { let name: String; let clean: Confusion; let adversarial: Confusion; let pairs: [(Int, Int, Int32)]
                       let separating: [Int32]; let separatingDifference: [Float]; let moved: [Int32]; let movedChange: [Float] }
        var groups: [Group] = []
        for (f, path) in adversarial.enumerated() {
            let adv = try AdversarialRowsRead.read(path, classes: c)
            let clean = try Predictions.read(cleanAttributes[f], dataset: facts.table, withAttributes: true)
            let moved = try Predictions.read(adversarialAttributes[f], dataset: facts.table, withAttributes: true)
            guard moved.index == adv.index, moved.labels == adv.labels else {
                throw StageError("\(adversarialAttributes[f]): its images (index/labels) do not line up with \(path)'s")
            }
            let cleanRow = clean.rowOfImage
            if let missing = adv.index.first(where: { cleanRow[$0] == nil }) {
                throw StageError("\(cleanAttributes[f]): has no row for image \(missing) of \(path): not the same split?")
            }
            let cleanConfusion = Confusion(classes: c, labels: adv.labels, predictions: adv.cleanPredictions)
            let advConfusion = Confusion(classes: c, labels: adv.labels, predictions: adv.advPredictions)
            let top = advConfusion.topPairs(pairs)
            var separating: [Int32] = [], difference: [Float] = [], movedTop: [Int32] = [], change: [Float] = []
            for (y, p, _) in top {
                // Separating: |φ(y) − φ(p)| largest (sign: + the true class has more).
                let d = (0..<a).map { phi[y * a + $0] - phi[p * a + $0] }
                let sep = DiscriminativeAttributes.top(topK, of: d.map(abs))
                separating += sep.map(Int32.init); difference += sep.map { d[$0] }
                // Moved: the mean change Â − A over the pair's images, scored along φ(p) − φ(y).
                let rows = adv.index.indices.filter { Int(adv.labels[$0]) == y && Int(adv.advPredictions[$0]) == p }
                var mean = [Float](repeating: 0, count: a)
                for i in rows {
                    let r = cleanRow[adv.index[i]]!
                    for j in 0..<a { mean[j] += (moved.attributes![i * a + j] - clean.attributes![r * a + j]) / Float(rows.count) }
                }
                let along = DiscriminativeAttributes.top(topK, of: (0..<a).map { mean[$0] * -d[$0] })
                movedTop += along.map(Int32.init); change += along.map { mean[$0] }
            }
            groups.append(Group(name: names[f], clean: cleanConfusion, adversarial: advConfusion, pairs: top,
                                separating: separating, separatingDifference: difference, moved: movedTop, movedChange: change))
        }
        let k = min(topK, a)
        let run = try StageRun(stage: "explain", output: output, seed: common.seed,
                               parameters: ["subcommand": "confusions", "pairs": pairs, "top_k": k],
                               inputs: [images] + adversarial + cleanAttributes + adversarialAttributes)
        try run.run { file in
            try file.writeStrings("class_names", facts.table.classNames)
            try file.writeStrings("attribute_names", facts.table.attributeNames)
            try file.writeStrings("sets", names)
            for g in groups {
                let p = g.pairs.count
                try file.createGroup(g.name)
                try file.write("\(g.name)/clean", g.clean.counts, shape: [c, c])
                try file.write("\(g.name)/adversarial", g.adversarial.counts, shape: [c, c])
                try file.write("\(g.name)/pairs", g.pairs.flatMap { [Int32($0.0), Int32($0.1)] }, shape: [p, 2])
                try file.write("\(g.name)/pair_counts", g.pairs.map(\.2), shape: [p])
                try file.write("\(g.name)/separating", g.separating, shape: [p, k])
                try file.write("\(g.name)/separating_difference", g.separatingDifference, shape: [p, k])
                try file.write("\(g.name)/moved", g.moved, shape: [p, k])
                try file.write("\(g.name)/moved_change", g.movedChange, shape: [p, k])
            }
        }
        for g in groups {
            print("\(g.name): most frequent confusions under attack")
            for (q, (y, p, count)) in g.pairs.enumerated() {
                let sep = (0..<k).map { facts.table.attributeNames[Int(g.separating[q * k + $0])] }.joined(separator: ", ")
                let mov = (0..<k).map { facts.table.attributeNames[Int(g.moved[q * k + $0])] }.joined(separator: ", ")
                print("  \(facts.table.classNames[y]) → \(facts.table.classNames[p]): \(count) images; separating: \(sep); moved: \(mov)")
            }
        }
    }
}
