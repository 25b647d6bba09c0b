import ArgumentParser
import AttributeSpace
import ClassifierKit
import Foundation
import HDF5Store
import PipelineKit

/// `explain counterfactual`: one targeted adversarial file explained image by image.
struct CounterfactualCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "counterfactual",
        abstract: "Counter-attributes, minimal counter-attribute sets and counter-examples of a targeted attack, and natural misclassifications.")

    @Option(help: "The dataset (prepare-data output).")
    var images: String
    @Option(help: "The model's SJE (its class embedding φ is the attribute-based classifier's).")
    var sje: String
    @Option(help: "The targeted adversarial file (attack --target).")
    var adversarial: String
    @Option(help: "Predicted attributes of the clean test images (predict-attributes on the model's test features).")
    var cleanAttributes: String
    @Option(help: "Predicted attributes of the targeted adversarial images.")
    var adversarialAttributes: String
    @Option(help: "Predicted attributes of the training images (the counter-examples are drawn from them).")
    var trainAttributes: String
    @Option(help: "The model the attack was made against: with it, on a set with part truth, the rising counter-attributes are grounded on the counter-image and on the nearest counter-example.")
    var model: String?
    @Option(help: "Counter-attributes kept per image for the shares and the report.")
    var topK = 5
    @Option(help: "Counter-examples per image (of the counter-class, and of the true class).")
    var neighbours = 5
    @Option(help: "Output explanation file.")
    var output: String
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (1...1000).contains(topK) else { throw ValidationError("--top-k must be in 1...1000, got \(topK)") }
        guard (1...1000).contains(neighbours) else { throw ValidationError("--neighbours must be in 1...1000, got \(neighbours)") }
    }

    func run() throws {
        let facts = try DatasetFacts.read(images)
        let (c, a) = (facts.table.classCount, facts.table.attributeCount)
        let training = try facts.trainingRows(of: images)
        let phi = try readClassEmbedding(sje, facts: facts)
        let sjeFile = try H5File.open(sje)
        let embedding = try SJE.read(from: sjeFile)
        sjeFile.close()
        let adv = try AdversarialRowsRead.read(adversarial, classes: c)
        guard let targets = adv.targets else {
            throw H5Error(file: adversarial, object: "/targets", message: "missing: not a targeted attack (make it with attack --target)")
        }
        let clean = try Predictions.read(cleanAttributes, dataset: facts.table, withAttributes: true)
        let perturbed = try Predictions.read(adversarialAttributes, dataset: facts.table, withAttributes: true)
        let train = try Predictions.read(trainAttributes, dataset: facts.table, withAttributes: true)
        guard perturbed.index == adv.index, perturbed.labels == adv.labels else {
            throw StageError("\(adversarialAttributes): its images (index/labels) do not line up with \(adversarial)'s")
        }
        let cleanRow = clean.rowOfImage
        if let missing = adv.index.first(where: { cleanRow[$0] == nil }) {
            throw StageError("\(cleanAttributes): has no row for image \(missing) of \(adversarial): not the same split?")
        }
        if let bad = train.index.first(where: { !training.contains(Int($0)) }) {
            throw StageError("\(trainAttributes): image \(bad) is not in the training split of \(images)")
        }
        let A = clean.attributes!, Ahat = perturbed.attributes!, trainA = train.attributes!
        // Training rows of each class, for the counter-examples.
        var trainOfClass = [[Int]](repeating: [], count: c)
        for (row, label) in train.labels.enumerated() { trainOfClass[Int(label)].append(row) }

        let n = adv.index.count, k = min(topK, a), m = neighbours
        var ranking = [Int32](repeating: -1, count: n * a), scores = [Float](repeating: .nan, count: n * a)
        var minimal = [Int32](repeating: -1, count: n)
        var counterCount = [Int32](repeating: 0, count: n)
        var change = [Float](repeating: .nan, count: n * k)
        var belongs = [UInt8](repeating: 0, count: n * k), lacks = [UInt8](repeating: 2, count: n * k)
        var belongsBaseline = [Float](repeating: .nan, count: n), lacksBaseline = [Float](repeating: .nan, count: n)
        var largestBelong = [Float](repeating: .nan, count: n), largestLacked = [Float](repeating: .nan, count: n)
        var counterExamples = [Int64](repeating: -1, count: n * m), counterDistances = [Float](repeating: .nan, count: n * m)
        var trueExamples = [Int64](repeating: -1, count: n * m), trueDistances = [Float](repeating: .nan, count: n * m)
        let progress = Progress("explain counterfactual", total: n)
        for i in 0..<n {
            defer { progress.advance(by: 1) }
            let t = Int(targets[i]), y = Int(adv.labels[i])
            guard t >= 0 else { continue }
            let r = cleanRow[adv.index[i]]!
            let a0 = A[(r * a)..<((r + 1) * a)], a1 = Ahat[(i * a)..<((i + 1) * a)]
            let s = Counterfactuals.counterScores(a: a0, aHat: a1, phiTrue: phi[(y * a)..<((y + 1) * a)],
                                                  phiCounter: phi[(t * a)..<((t + 1) * a)])
            let order = DiscriminativeAttributes.top(a, of: s)
            for (j, attribute) in order.enumerated() { ranking[i * a + j] = Int32(attribute); scores[i * a + j] = s[attribute] }
            minimal[i] = Int32(Counterfactuals.minimalSetSize(a: a0, aHat: a1, ranking: order, counter: t, phi: phi, classes: c) ?? -1)
            // The shares of docs/explain.md: the top-k counter-attributes (positive scores only)
            // against the class attributes and the image's own, and every moved attribute as the baseline.
            let truth = facts.imageAttributes.map { $0[(Int(adv.index[i]) * a)..<((Int(adv.index[i]) + 1) * a)] }
            let raw = facts.table.values[(t * a)..<((t + 1) * a)]
            for (j, attribute) in order.prefix(k).enumerated() where s[attribute] > 0 {
                counterCount[i] += 1
                let rose = a1[a1.startIndex + attribute] > a0[a0.startIndex + attribute]
                change[i * k + j] = a1[a1.startIndex + attribute] - a0[a0.startIndex + attribute]
                belongs[i * k + j] = Counterfactuals.belongs(rose: rose, classValue: raw[raw.startIndex + attribute]) ? 1 : 0
                if let truth {
                    lacks[i * k + j] = Counterfactuals.imageLacks(rose: rose, imageValue: truth[truth.startIndex + attribute]) ? 1 : 0
                }
            }
            var moved = 0, movedBelongs = 0, movedLacks = 0
            for attribute in 0..<a where a1[a1.startIndex + attribute] != a0[a0.startIndex + attribute] {
                let rose = a1[a1.startIndex + attribute] > a0[a0.startIndex + attribute]
                moved += 1
                if Counterfactuals.belongs(rose: rose, classValue: raw[raw.startIndex + attribute]) { movedBelongs += 1 }
                if let truth, Counterfactuals.imageLacks(rose: rose, imageValue: truth[truth.startIndex + attribute]) { movedLacks += 1 }
            }
            // The top-k attributes by the size of their move alone (no φ in the ranking): the
            // shares are not near-certain by construction, unlike the counter-attributes'.
            let largest = DiscriminativeAttributes.top(k, of: (0..<a).map { abs(a1[a1.startIndex + $0] - a0[a0.startIndex + $0]) })
            let rises = largest.map { a1[a1.startIndex + $0] > a0[a0.startIndex + $0] }
            largestBelong[i] = Float(zip(largest, rises).filter { Counterfactuals.belongs(rose: $1, classValue: raw[raw.startIndex + $0]) }.count) / Float(k)
            if let truth {
                largestLacked[i] = Float(zip(largest, rises).filter { Counterfactuals.imageLacks(rose: $1, imageValue: truth[truth.startIndex + $0]) }.count) / Float(k)
            }
            if moved > 0 {
                belongsBaseline[i] = Float(movedBelongs) / Float(moved)
                if truth != nil { lacksBaseline[i] = Float(movedLacks) / Float(moved) }
            }
            let a1Vector = a1
            Examples.store(Counterfactuals.nearest(m, to: a1Vector, among: trainOfClass[t], vectors: trainA), row: i, width: m,
                           index: train.index, into: &counterExamples, &counterDistances)
            Examples.store(Counterfactuals.nearest(m, to: a1Vector, among: trainOfClass[y], vectors: trainA), row: i, width: m,
                           index: train.index, into: &trueExamples, &trueDistances)
        }
        progress.finish()
        let attacked = targets.filter { $0 >= 0 }.count
        let reached = (0..<n).filter { targets[$0] >= 0 && adv.advPredictions[$0] == targets[$0] }
        // Grounding of the rising counter-attributes (docs/explain.md), where the set allows it.
        var groundedImage = [UInt8](repeating: CounterGrounding.notTried, count: n * k)
        var groundedExample = groundedImage
        let grounding = try model.flatMap { try CounterGrounding(model: $0, embedding: embedding, images: images, seed: common.seed) }
        if let grounding {
            let reader = try AdversarialReader(adversarial, source: grounding.images)
            for start in stride(from: 0, to: n, by: 64) {
                let rows = start..<min(start + 64, n)
                let rising: [[Int]] = rows.map { i in
                    (0..<k).map { j in j < Int(counterCount[i]) && change[i * k + j] > 0 ? Int(ranking[i * a + j]) : -1 }
                }
                let onImage = try grounding.codes(pixels: try reader.batch(rows), truthRows: rows.map { Int(adv.index[$0]) },
                                                  attributes: rising, k: k)
                groundedImage.replaceSubrange((start * k)..<(rows.upperBound * k), with: onImage)
                // The nearest counter-example of each image that has one.
                let withExample = rows.filter { counterExamples[$0 * m] >= 0 }
                guard !withExample.isEmpty else { continue }
                let exampleRows = withExample.map { Int(counterExamples[$0 * m]) }
                let onExample = try grounding.codes(pixels: try grounding.images.batch(exampleRows), truthRows: exampleRows,
                                                    attributes: withExample.map { rising[$0 - start] }, k: k)
                for (q, i) in withExample.enumerated() {
                    groundedExample.replaceSubrange((i * k)..<((i + 1) * k), with: onExample[(q * k)..<((q + 1) * k)])
                }
            }
        }
        func groundedShare(_ codes: [UInt8]) -> Double {
            let scored = reached.flatMap { i in (0..<k).map { codes[i * k + $0] } }.filter { $0 <= 1 }
            return scored.isEmpty ? .nan : Double(scored.filter { $0 == 1 }.count) / Double(scored.count)
        }
        let natural = NaturalMisclassifications(adv: adv, clean: clean, cleanRow: cleanRow, train: train, trainOfClass: trainOfClass,
                                                phi: phi, attributes: a, topK: k, neighbours: m)
        // Natural misclassifications: their eq. 8 attributes (why the wrong class) grounded on the
        // clean image, as the ground stage grounds an adversarial image's.
        var naturalGrounded: [UInt8]?
        if let grounding, !natural.rows.isEmpty {
            var codes: [UInt8] = []
            for start in stride(from: 0, to: natural.rows.count, by: 64) {
                let rows = Array(natural.index[start..<min(start + 64, natural.rows.count)].map { Int($0) })
                let chosen = (start..<(start + rows.count)).map { q in (0..<k).map { Int(natural.wrongEvidence[q * k + $0]) } }
                codes += try grounding.codes(pixels: try grounding.images.batch(rows), truthRows: rows, attributes: chosen, k: k)
            }
            naturalGrounded = codes
        }

        let flipped = reached.filter { minimal[$0] >= 0 }
        let meanSize = flipped.isEmpty ? Double.nan : Double(flipped.map { Int(minimal[$0]) }.reduce(0, +)) / Double(flipped.count)
        func share(_ flags: [UInt8]) -> Double {
            var hits = 0, total = 0
            for i in reached { for j in 0..<k where flags[i * k + j] < 2 && j < Int(counterCount[i]) { total += 1; hits += Int(flags[i * k + j]) } }
            return total > 0 ? Double(hits) / Double(total) : .nan
        }
        let run = try StageRun(stage: "explain", output: output, seed: common.seed,
                               parameters: ["subcommand": "counterfactual", "top_k": k, "neighbours": m],
                               inputs: [images, sje, adversarial, cleanAttributes, adversarialAttributes, trainAttributes] + [model].compactMap { $0 })
        try run.run { file in
            try file.write("index", adv.index, shape: [n])
            try file.write("labels", adv.labels, shape: [n])
            try file.write("targets", targets, shape: [n])
            try file.write("general_clean", adv.cleanPredictions, shape: [n])
            try file.write("general_adversarial", adv.advPredictions, shape: [n])
            try file.write("attribute_clean", adv.index.map { clean.predictions[cleanRow[$0]!] }, shape: [n])
            try file.write("attribute_adversarial", perturbed.predictions, shape: [n])
            try file.write("ranking", ranking, shape: [n, a], compress: true)
            try file.write("scores", scores, shape: [n, a], compress: true)
            try file.write("minimal_set_size", minimal, shape: [n])
            try file.write("counter_count", counterCount, shape: [n])
            try file.write("counter_change", change, shape: [n, k])
            try file.write("belongs", belongs, shape: [n, k])
            try file.write("image_lacks", lacks, shape: [n, k])
            try file.write("belongs_baseline", belongsBaseline, shape: [n])
            try file.write("image_lacks_baseline", lacksBaseline, shape: [n])
            try file.write("largest_moves_belong", largestBelong, shape: [n])
            try file.write("largest_moves_lacked", largestLacked, shape: [n])
            if grounding != nil {
                try file.write("grounded_counter_image", groundedImage, shape: [n, k])
                try file.write("grounded_counter_example", groundedExample, shape: [n, k])
            }
            try file.write("counter_examples", counterExamples, shape: [n, m])
            try file.write("counter_distances", counterDistances, shape: [n, m])
            try file.write("true_examples", trueExamples, shape: [n, m])
            try file.write("true_distances", trueDistances, shape: [n, m])
            try natural.write(to: file)
            if let naturalGrounded { try file.write("natural/grounded_wrong_evidence", naturalGrounded, shape: [natural.rows.count, k]) }
            try file.writeStrings("class_names", facts.table.classNames)
            try file.writeStrings("attribute_names", facts.table.attributeNames)
            let attributes: [(String, H5AttributeValue)] = [
                ("target", .string(adv.targetMode ?? "")), ("eps", .double(adv.eps)), ("top_k", .int(Int64(k))),
                ("neighbours", .int(Int64(m))), ("adversarial", .string(adversarial)), ("sje", .string(sje)),
                ("has_image_truth", .int(facts.imageAttributes == nil ? 0 : 1)),
                ("attacked", .int(Int64(attacked))), ("skipped", .int(Int64(n - attacked))),
                ("target_success_rate", .double(attacked > 0 ? Double(reached.count) / Double(attacked) : .nan)),
                ("minimal_set_found", .double(reached.isEmpty ? .nan : Double(flipped.count) / Double(reached.count))),
                ("minimal_set_mean_size", .double(meanSize)),
                ("share_belongs", .double(share(belongs))), ("share_image_lacks", .double(share(lacks))),
                ("natural_count", .int(Int64(natural.rows.count))),
                ("grounded", .int(grounding == nil ? 0 : 1)),
                ("share_grounded_counter_image", .double(grounding == nil ? .nan : groundedShare(groundedImage))),
                ("share_grounded_counter_example", .double(grounding == nil ? .nan : groundedShare(groundedExample))),
                ("share_grounded_natural", .double(naturalGrounded.map { codes in
                    let scored = codes.filter { $0 <= 1 }
                    return scored.isEmpty ? .nan : Double(scored.filter { $0 == 1 }.count) / Double(scored.count)
                } ?? .nan)),
            ]
            for (name, value) in attributes { try file.setAttribute(name, value) }
        }
        print(String(format: "explain %@: %d of %d attacked images reached their counter-class; minimal counter-attribute set "
                     + "found for %d, mean size %.2f; counter-attributes that belong to the counter-class %.3f, "
                     + "that the image truly lacks %.3f; %d natural misclassifications; rising counter-attributes grounded on the "
                     + "counter-image %.3f, on the nearest counter-example %.3f",
                     output, reached.count, attacked, flipped.count, meanSize, share(belongs), share(lacks), natural.rows.count,
                     grounding == nil ? Double.nan : groundedShare(groundedImage), grounding == nil ? Double.nan : groundedShare(groundedExample)))
    }
}
