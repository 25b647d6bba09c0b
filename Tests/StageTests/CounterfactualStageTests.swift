import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// Counterfactual explanations (docs/explain.md) as binaries on a tiny 5-class image set:
/// `attack --target` steers images to the counter-class it names, and `explain` writes the
/// counter-attributes, counter-examples, natural misclassifications and class confusions.
final class CounterfactualStageTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("counterfactual") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func setUpModel() throws -> (images: String, model: String) { try makeTinyModel(in: directory, epochs: 3) }

    /// The nearest and farthest other class of each class by the L2-normalised rows of φ,
    /// computed here independently of the stage.
    func counterClasses(_ images: String) throws -> (nearest: [Int], farthest: [Int]) {
        let file = try H5File.open(images)
        defer { file.close() }
        let phi = try file.read("class_attributes", as: Float.self)
        let (c, a) = (phi.shape[0], phi.shape[1])
        let rows = (0..<c).map { k -> [Double] in
            let row = (0..<a).map { Double(phi.data[k * a + $0]) }
            let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            return row.map { $0 / norm }
        }
        func distance(_ i: Int, _ j: Int) -> Double { zip(rows[i], rows[j]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) }
        let others = { (y: Int) in (0..<c).filter { $0 != y } }
        return ((0..<c).map { y in others(y).min { distance(y, $0) < distance(y, $1) }! },
                (0..<c).map { y in others(y).max { distance(y, $0) < distance(y, $1) }! })
    }

    func testTargetedAttackReachesTheCounterClassItStores() throws {
        let (images, model) = try setUpModel()
        let (nearest, farthest) = try counterClasses(images)
        var untargetedHits = 0
        let plain = path("plain.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "10",
                                               "--output", plain]).status, 0)
        for (mode, expected) in [("nearest", nearest), ("farthest", farthest)] {
            let output = path("\(mode).h5")
            let result = try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "10",
                                                 "--target", mode, "--batch-size", "3", "--output", output])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("target-hit"), result.stdout)
            let file = try H5File.open(output)
            defer { file.close() }
            let labels = try file.read("labels", as: Int32.self).data
            let targets = try file.read("targets", as: Int32.self).data
            let reached = try file.read("adv_predictions", as: Int32.self).data
            XCTAssertEqual(targets, labels.map { Int32(expected[Int($0)]) }, mode)
            XCTAssertEqual(try file.attribute("target").stringValue, mode)
            XCTAssertEqual(try file.attribute("target_skipped").intValue, 0)
            let hits = zip(reached, targets).filter { $0 == $1 }.count
            XCTAssertEqual(try file.attribute("target_success").intValue, Int64(hits))
            XCTAssertEqual(try file.attribute("target_success_rate").doubleValue!, Double(hits) / Double(labels.count), accuracy: 1e-12)
            XCTAssertLessThanOrEqual(try file.attribute("max_linf").doubleValue!, 0.1 + 1e-6)
            // Steering works: the targeted attack lands on its counter-class more often than
            // the untargeted attack of the same budget happens to.
            let plainFile = try H5File.open(plain)
            let plainReached = try plainFile.read("adv_predictions", as: Int32.self).data
            plainFile.close()
            untargetedHits = zip(plainReached, targets).filter { $0 == $1 }.count
            XCTAssertGreaterThan(hits, untargetedHits, "\(mode): targeted \(hits) vs untargeted \(untargetedHits) of \(labels.count)")
            // Downstream stages read the file as any adversarial file.
            let features = try runStage("extract-features", ["--model", model, "--adversarial", output, "--output", path("f-\(mode).h5")])
            XCTAssertEqual(features.status, 0, features.stderr)
        }
    }

    func testNamedCounterClassSkipsItsOwnImagesAndUnknownNamesAreUsageErrors() throws {
        let (images, model) = try setUpModel()
        let output = path("class.h5")
        let result = try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "5",
                                             "--target", "class:class_2", "--output", output])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("skipped"), result.stderr)
        let file = try H5File.open(output)
        let labels = try file.read("labels", as: Int32.self).data
        let targets = try file.read("targets", as: Int32.self).data
        let clean = try file.read("clean_predictions", as: Int32.self).data
        let reached = try file.read("adv_predictions", as: Int32.self).data
        let norms = try file.read("perturbation_norm", as: Float.self).data
        let skipped = labels.filter { $0 == 2 }.count
        XCTAssertGreaterThan(skipped, 0)
        XCTAssertEqual(try file.attribute("target_skipped").intValue, Int64(skipped))
        XCTAssertEqual(try file.attribute("target_attacked").intValue, Int64(labels.count - skipped))
        for i in labels.indices {
            XCTAssertEqual(targets[i], labels[i] == 2 ? -1 : 2)
            if labels[i] == 2 {
                XCTAssertEqual(norms[i], 0, "a skipped image is stored clean")
                XCTAssertEqual(reached[i], clean[i])
            }
        }
        file.close()

        let base = ["--images", images, "--model", model, "--eps", "0.1", "--output", path("bad.h5")]
        for (options, named) in [(["--target", "class:Nope"], "class_4"), (["--target", "closest"], "nearest"),
                                 (["--target", "nearest", "--method", "apgd-ce"], "--target"),
                                 (["--target", "nearest", "--label", "predicted"], "--label")] {
            let bad = try runStage("attack", base + options)
            XCTAssertEqual(bad.status, 64, "\(options): \(bad.stderr)")
            XCTAssertTrue(bad.stderr.contains(named), "\(options): \(bad.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.h5")))
        }
    }

    /// The chain a targeted file needs before explain: features of every split and of the
    /// adversarials, the SJE, predicted attributes. Returns the attributes files.
    func explainInputs(_ images: String, _ model: String, adversarial: String) throws -> (sje: String, clean: String, moved: String, train: String) {
        for (name, options) in [("train", ["--images", images, "--split", "train"]), ("val", ["--images", images, "--split", "val"]),
                                ("test", ["--images", images, "--split", "test"]), ("adv", ["--adversarial", adversarial])] {
            let r = try runStage("extract-features", ["--model", model, "--output", path("f-\(name).h5")] + options)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let sje = path("sje.h5")
        let fit = try runStage("fit-sje", ["--features", path("f-train.h5"), "--val-features", path("f-val.h5"), "--images", images,
                                           "--epochs", "5", "--output", sje])
        XCTAssertEqual(fit.status, 0, fit.stderr)
        for name in ["train", "test", "adv"] {
            let r = try runStage("predict-attributes", ["--sje", sje, "--features", path("f-\(name).h5"), "--output", path("a-\(name).h5")])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        return (sje, path("a-test.h5"), path("a-adv.h5"), path("a-train.h5"))
    }

    func testExplainWritesCounterAttributesMinimalSetsAndCounterExamples() throws {
        let (images, model) = try setUpModel()
        let adversarial = path("adv-nearest.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "10",
                                               "--target", "nearest", "--output", adversarial]).status, 0)
        let inputs = try explainInputs(images, model, adversarial: adversarial)
        let output = path("explanations/standard-nearest-eps0.1.h5")
        let run = try runStage("explain", ["counterfactual", "--images", images, "--sje", inputs.sje, "--model", model, "--adversarial", adversarial,
                                           "--clean-attributes", inputs.clean, "--adversarial-attributes", inputs.moved,
                                           "--train-attributes", inputs.train, "--neighbours", "3", "--output", output])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("reached their counter-class"), run.stdout)

        let dataset = try H5File.open(images)
        let splits = try dataset.read("split", as: UInt8.self).data, allLabels = try dataset.read("labels", as: Int32.self).data
        dataset.close()
        let sjeFile = try H5File.open(inputs.sje)
        let phi = try sjeFile.read("class_embeddings", as: Float.self)
        sjeFile.close()
        let (c, a) = (phi.shape[0], phi.shape[1])
        func read(_ file: String) throws -> (index: [Int64], attributes: [Float]) {
            let f = try H5File.open(file)
            defer { f.close() }
            return (try f.read("index", as: Int64.self).data, try f.read("attributes", as: Float.self).data)
        }
        let clean = try read(inputs.clean), moved = try read(inputs.moved), train = try read(inputs.train)
        func classify(_ v: [Float]) -> Int {
            (0..<c).max { x, y in
                let sx = (0..<a).reduce(Float(0)) { $0 + v[$1] * phi.data[x * a + $1] }
                let sy = (0..<a).reduce(Float(0)) { $0 + v[$1] * phi.data[y * a + $1] }
                return sx < sy || (sx == sy && x > y)
            }!
        }

        let file = try H5File.open(output)
        defer { file.close() }
        let index = try file.read("index", as: Int64.self).data
        let n = index.count
        let targets = try file.read("targets", as: Int32.self).data
        let ranking = try file.read("ranking", as: Int32.self, expectingShape: [n, a]).data
        let scores = try file.read("scores", as: Float.self, expectingShape: [n, a]).data
        let minimal = try file.read("minimal_set_size", as: Int32.self, expectingShape: [n]).data
        let examples = try file.read("counter_examples", as: Int64.self, expectingShape: [n, 3]).data
        let distances = try file.read("counter_distances", as: Float.self, expectingShape: [n, 3]).data
        XCTAssertEqual(index, moved.index)
        // Tiny images have no part truth: nothing is grounded, and the file says so.
        XCTAssertEqual(try file.attribute("grounded").intValue, 0)
        XCTAssertFalse(file.exists("grounded_counter_example"))
        XCTAssertTrue(run.stderr.contains("no part truth"), run.stderr)
        var checkedSets = 0
        for i in 0..<n {
            // A ranking of every attribute by its score, highest first.
            let order = (0..<a).map { Int(ranking[i * a + $0]) }
            XCTAssertEqual(order.sorted(), Array(0..<a))
            XCTAssertEqual((0..<a).map { scores[i * a + $0] }, (0..<a).map { scores[i * a + $0] }.sorted(by: >))
            // The minimal set: its first s attributes flip F to the target, s − 1 do not.
            let r = clean.index.firstIndex(of: index[i])!
            var v = Array(clean.attributes[(r * a)..<((r + 1) * a)])
            let s = Int(minimal[i]), t = Int(targets[i])
            if s >= 1 {
                for j in 0..<(s - 1) { v[order[j]] = moved.attributes[i * a + order[j]] }
                XCTAssertNotEqual(classify(v), t, "row \(i): \(s - 1) attributes already flip F")
                v[order[s - 1]] = moved.attributes[i * a + order[s - 1]]
                XCTAssertEqual(classify(v), t, "row \(i): \(s) attributes do not flip F")
                checkedSets += 1
            } else if s == -1 {
                for j in 0..<a { v[order[j]] = moved.attributes[i * a + order[j]]; XCTAssertNotEqual(classify(v), t) }
            }
            // Counter-examples: training images of the counter-class, nearest first, at the stored distance.
            for j in 0..<3 where examples[i * 3 + j] >= 0 {
                let row = Int(examples[i * 3 + j])
                XCTAssertEqual(splits[row], 0)
                XCTAssertEqual(Int(allLabels[row]), t)
                let tr = train.index.firstIndex(of: Int64(row))!
                let d = (0..<a).reduce(Float(0)) { sum, q in
                    let x = moved.attributes[i * a + q] - train.attributes[tr * a + q]
                    return sum + x * x
                }.squareRoot()
                XCTAssertEqual(distances[i * 3 + j], d, accuracy: 1e-5)
                if j > 0 { XCTAssertGreaterThanOrEqual(distances[i * 3 + j], distances[i * 3 + j - 1]) }
            }
        }
        XCTAssertGreaterThan(checkedSets, 0, "no minimal set to check")
        // Natural misclassifications: exactly the clean test images the model gets wrong.
        let adv = try H5File.open(adversarial)
        let cleanPredictions = try adv.read("clean_predictions", as: Int32.self).data, labels = try adv.read("labels", as: Int32.self).data
        adv.close()
        XCTAssertEqual(try file.read("natural/index", as: Int64.self).data,
                       index.indices.filter { cleanPredictions[$0] != labels[$0] }.map { index[$0] })

        // Confusions of the same file, and the summary over it.
        let confusions = path("explanations/confusions.h5")
        let confusion = try runStage("explain", ["confusions", "--images", images, "--adversarial", adversarial, "--clean-attributes",
                                                 inputs.clean, "--adversarial-attributes", inputs.moved, "--output", confusions])
        XCTAssertEqual(confusion.status, 0, confusion.stderr)
        let cf = try H5File.open(confusions)
        let matrix = try cf.read("adv-nearest/clean", as: Int32.self, expectingShape: [c, c]).data
        cf.close()
        XCTAssertEqual(matrix.reduce(0, +), Int32(n))
        XCTAssertEqual((0..<c).map { matrix[$0 * c + $0] }.reduce(0, +), Int32(zip(cleanPredictions, labels).filter { $0 == $1 }.count))
        let summary = try runStage("explain", ["summary", "--explanations", output, "--bootstrap-resamples", "200", "--output", path("summary.json")])
        XCTAssertEqual(summary.status, 0, summary.stderr)
        XCTAssertTrue(summary.stdout.contains("minimal counter-attribute set, mean size"), summary.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("summary.json")))
    }

    func testExplainRefusesAnUntargetedFileAndASetWithoutTrainingImages() throws {
        let (images, model) = try setUpModel()
        let adversarial = path("adv-plain.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--eps", "0.05", "--output", adversarial]).status, 0)
        let inputs = try explainInputs(images, model, adversarial: adversarial)
        let output = path("out.h5")
        let base = ["counterfactual", "--sje", inputs.sje, "--clean-attributes", inputs.clean, "--adversarial-attributes", inputs.moved,
                    "--train-attributes", inputs.train, "--output", output]
        let untargeted = try runStage("explain", base + ["--images", images, "--adversarial", adversarial])
        XCTAssertEqual(untargeted.status, 1, untargeted.stderr)
        XCTAssertTrue(untargeted.stderr.contains("/targets") && untargeted.stderr.contains("attack --target"), untargeted.stderr)
        let noTraining = path("no-training.h5")
        try makeTinyImages(at: noTraining, classes: 5, perClass: 10, size: 8, splitCycle: [1, 2])
        let refused = try runStage("explain", base + ["--images", noTraining, "--adversarial", adversarial])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(noTraining) && refused.stderr.contains("no training split"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        XCTAssertEqual(try runStage("explain", []).status, 64)
    }

    /// On rendered birds (part masks, per-image attributes) the rising counter-attributes are
    /// grounded: a code 1 only where the image scored truly has the attribute and it rose,
    /// code 3 exactly where no rising counter-attribute was tried.
    func testRisingCounterAttributesAreGroundedOnlyWhereTheImageHasThem() throws {
        let images = path("birds.h5")
        let prepared = try runStage("prepare-data", ["--dataset", "synth-coarse", "--size", "16", "--classes", "5", "--images-per-class", "16",
                                                     "--seed", "3", "--output", images])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        let model = path("birds-model.h5")
        let trained = try runStage("train", ["--images", images, "--output", model, "--epochs", "3", "--arch", "cifar-resnet8",
                                             "--width", "4", "--batch-size", "16", "--learning-rate", "0.05", "--threads", "2"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let adversarial = path("birds-nearest.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "10",
                                               "--target", "nearest", "--output", adversarial]).status, 0)
        let inputs = try explainInputs(images, model, adversarial: adversarial)
        let output = path("birds-explained.h5")
        let run = try runStage("explain", ["counterfactual", "--images", images, "--sje", inputs.sje, "--model", model,
                                           "--adversarial", adversarial, "--clean-attributes", inputs.clean,
                                           "--adversarial-attributes", inputs.moved, "--train-attributes", inputs.train, "--output", output])
        XCTAssertEqual(run.status, 0, run.stderr)
        let dataset = try H5File.open(images)
        let truth = try dataset.read("image_attributes", as: Float.self)
        dataset.close()
        let a = truth.shape[1]
        let file = try H5File.open(output)
        defer { file.close() }
        XCTAssertEqual(try file.attribute("grounded").intValue, 1)
        let index = try file.read("index", as: Int64.self).data
        let n = index.count
        let ranking = try file.read("ranking", as: Int32.self, expectingShape: [n, a]).data
        let change = try file.read("counter_change", as: Float.self).data
        let k = change.count / n
        let count = try file.read("counter_count", as: Int32.self).data
        let onImage = try file.read("grounded_counter_image", as: UInt8.self, expectingShape: [n, k]).data
        let onExample = try file.read("grounded_counter_example", as: UInt8.self, expectingShape: [n, k]).data
        let examples = try file.read("counter_examples", as: Int64.self).data
        let m = examples.count / n
        var scored = 0
        for i in 0..<n {
            for j in 0..<k {
                let rising = j < Int(count[i]) && change[i * k + j] > 0
                let attribute = Int(ranking[i * a + j])
                XCTAssertEqual(onImage[i * k + j] == 3, !rising, "row \(i), place \(j)")
                if onImage[i * k + j] == 1 { XCTAssertGreaterThanOrEqual(truth.data[Int(index[i]) * a + attribute], 0.5) }
                if onExample[i * k + j] == 1 { XCTAssertGreaterThanOrEqual(truth.data[Int(examples[i * m]) * a + attribute], 0.5) }
                if onExample[i * k + j] <= 1 { scored += 1 }
            }
        }
        XCTAssertGreaterThan(scored, 0, "no counter-attribute could be scored on a counter-example")
        // Natural misclassifications' eq. 8 attributes, grounded on the clean image itself.
        let natural = try file.read("natural/index", as: Int64.self).data
        if !natural.isEmpty {
            let evidence = try file.read("natural/wrong_evidence", as: Int32.self, expectingShape: [natural.count, k]).data
            let codes = try file.read("natural/grounded_wrong_evidence", as: UInt8.self, expectingShape: [natural.count, k]).data
            for q in natural.indices {
                for j in 0..<k where codes[q * k + j] == 1 {
                    XCTAssertGreaterThanOrEqual(truth.data[Int(natural[q]) * a + Int(evidence[q * k + j])], 0.5)
                }
                XCTAssertFalse((0..<k).contains { codes[q * k + $0] == 3 }, "every eq. 8 attribute is tried")
            }
        }
    }
}

