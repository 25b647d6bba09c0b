import Foundation
import HDF5Store
import TestSupport
import Verdicts
import XCTest

/// quantify on hand-made predictions: every number is recomputed here independently.
final class QuantifyTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("quantify") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    let classes = 3, attributeCount = 5
    let labels: [Int32] = [0, 0, 1, 1, 2, 2]
    let general: [String: [Int32]] = [
        "standard-test": [0, 0, 1, 1, 2, 0], "standard-adv-eps0.1": [1, 0, 2, 0, 2, 1],
        "robust-eps0.1-test": [0, 0, 1, 1, 2, 2], "robust-eps0.1-adv-eps0.1": [0, 0, 1, 0, 2, 1],
        "robust-eps0.1-transfer-eps0.1": [0, 1, 1, 1, 2, 2],
    ]
    let attributeBased: [String: [Int32]] = [
        "standard-test": [0, 0, 1, 2, 2, 2], "standard-adv-eps0.1": [1, 1, 2, 0, 2, 2],
        "robust-eps0.1-test": [0, 0, 1, 1, 2, 1], "robust-eps0.1-adv-eps0.1": [0, 1, 1, 0, 1, 2],
        "robust-eps0.1-transfer-eps0.1": [0, 0, 1, 1, 0, 2],
    ]
    let phi: [Float] = [0.9, 0.1, 0.3, 0.0, 0.3,  0.2, 0.8, 0.1, 0.5, 0.2,  0.1, 0.3, 0.9, 0.2, 0.2]

    /// Predicted attribute vectors, different per set and image.
    func attributes(_ set: String) -> [Float] {
        let salt = Float(set.unicodeScalars.reduce(0) { $0 + Int($1.value) } % 17) / 17
        return (0..<(labels.count * attributeCount)).map { i in Float((i * 7 + Int(salt * 17)) % 11) / 11 - 0.3 + salt * 0.1 }
    }

    func makeInputs(attributeNames: [String]? = nil) throws {
        let names = (0..<attributeCount).map { "has_part::v\($0)" }
        let images = try H5File.create(path("images.h5"))
        try images.writeStrings("class_names", ["a", "b", "c"])
        try images.writeStrings("attribute_names", names)
        try images.write("class_attributes", phi, shape: [classes, attributeCount])
        images.close()
        try FileManager.default.createDirectory(atPath: path("sje"), withIntermediateDirectories: true)
        let sje = try H5File.create(path("sje/standard.h5"))
        try sje.write("class_embeddings", phi, shape: [classes, attributeCount])
        sje.close()
        for dir in ["features", "attributes"] { try FileManager.default.createDirectory(atPath: path(dir), withIntermediateDirectories: true) }
        let index = (0..<Int64(labels.count)).map { $0 + 10 }
        for (set, predictions) in general {
            let f = try H5File.create(path("features/\(set).h5"))
            try f.write("features", [Float](repeating: 0.5, count: labels.count * 2), shape: [labels.count, 2])
            try f.write("predictions", predictions, shape: [labels.count])
            try f.write("labels", labels, shape: [labels.count])
            try f.write("index", index, shape: [labels.count])
            f.close()
            let a = try H5File.create(path("attributes/\(set).h5"))
            try a.write("predictions", attributeBased[set]!, shape: [labels.count])
            try a.write("labels", labels, shape: [labels.count])
            try a.write("index", index, shape: [labels.count])
            try a.write("attributes", attributes(set), shape: [labels.count, attributeCount])
            try a.writeStrings("class_names", ["a", "b", "c"])
            try a.writeStrings("attribute_names", set == "robust-eps0.1-test" ? (attributeNames ?? names) : names)
            a.close()
        }
    }

    func accuracy(_ p: [Int32]) -> Double { Double(zip(p, labels).filter { $0 == $1 }.count) / Double(labels.count) }

    /// d1, d2 over the union of the top-⌈20%⌉ attributes by eqs. 7 and 8, written out plainly.
    func distances(first: [Float], second: [Float], truth: Int, wrong: Int) -> (Double, Double) {
        let a = attributeCount
        let k = Int((Double(a) * 0.2).rounded(.up))
        func topK(_ s: [Float]) -> [Int] { Array(s.indices.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k)) }
        let eq7 = topK((0..<a).map { first[$0] - phi[wrong * a + $0] })
        let eq8 = topK((0..<a).map { second[$0] - phi[truth * a + $0] })
        let chosen = Set(eq7 + eq8)
        var d1 = 0.0, d2 = 0.0
        for i in chosen {
            d1 += pow(Double(first[i] - second[i]), 2)
            d2 += pow(Double(phi[truth * a + i] - phi[wrong * a + i]), 2)
        }
        return (d1.squareRoot(), d2.squareRoot())
    }

    func testMetricsMatchAnIndependentRecomputation() throws {
        try makeInputs()
        let result = try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("f clean"), result.stdout)
        let document = try MetricsDocument.read(path("metrics.json"))
        let eps = try XCTUnwrap(document.record("0.1"))
        let names: [(String, AccuracySetName)] = [("standard-test", .standardClean), ("standard-adv-eps0.1", .standardAdversarial),
                                                  ("robust-eps0.1-test", .robustClean), ("robust-eps0.1-adv-eps0.1", .robustAdversarial),
                                                  ("robust-eps0.1-transfer-eps0.1", .robustTransfer)]
        for (set, key) in names {
            XCTAssertEqual(eps.accuracy.general[key], accuracy(general[set]!), accuracy: 1e-12, key.rawValue)
            XCTAssertEqual(eps.accuracy.attribute[key], accuracy(attributeBased[set]!), accuracy: 1e-12, key.rawValue)
            XCTAssertEqual(eps.outcomes.predictions.general[key], general[set]!, key.rawValue)
        }
        XCTAssertEqual(eps.outcomes.labels, labels)
        for (classifier, table) in [(ClassifierName.general, general), (.attribute, attributeBased)] {
            let clean = accuracy(table["standard-test"]!), adv = accuracy(table["standard-adv-eps0.1"]!)
            let robust = accuracy(table["robust-eps0.1-adv-eps0.1"]!)
            let r = (clean - robust) / (clean - adv)
            XCTAssertEqual(eps.robustRatio[classifier].robustRatio, r, accuracy: 1e-12, classifier.rawValue)
            XCTAssertEqual(eps.robustRatio[classifier].recoveredFraction, 1 - r, accuracy: 1e-12, classifier.rawValue)
        }
        XCTAssertEqual(eps.robustRatio.general.robustRatio, 1.0 / 3.0, accuracy: 1e-12)  // (5/6 − 4/6) / (5/6 − 2/6)

        // Study (a): right when clean, wrong when attacked (standard model): images 0, 2, 3.
        // Study (b): wrong on the standard model's adversarial, right on the robust model: 0, 2, 3, 5.
        let clean = attributes("standard-test"), adv = attributes("standard-adv-eps0.1")
        let robust = attributes("robust-eps0.1-transfer-eps0.1")
        let a = attributeCount
        func row(_ v: [Float], _ i: Int) -> [Float] { Array(v[(i * a)..<((i + 1) * a)]) }
        let wrong = general["standard-adv-eps0.1"]!
        let studyA = [0, 2, 3].map { distances(first: row(clean, $0), second: row(adv, $0), truth: Int(labels[$0]), wrong: Int(wrong[$0])) }
        let studyB = [0, 2, 3, 5].map { distances(first: row(robust, $0), second: row(adv, $0), truth: Int(labels[$0]), wrong: Int(wrong[$0])) }
        for (name, study, summary, images) in [("standard_attack", studyA, eps.distances.standardAttack, eps.distances.standardAttackImages),
                                                ("robust_recovery", studyB, eps.distances.robustRecovery, eps.distances.robustRecoveryImages)] {
            XCTAssertEqual(summary.images, study.count, name)
            XCTAssertEqual(summary.meanD1, study.map(\.0).reduce(0, +) / Double(study.count), accuracy: 1e-6, name)
            XCTAssertEqual(summary.meanD2, study.map(\.1).reduce(0, +) / Double(study.count), accuracy: 1e-6, name)
            XCTAssertEqual(summary.fractionD1BelowD2, Double(study.filter { $0.0 < $0.1 }.count) / Double(study.count), accuracy: 1e-12, name)
            for (image, d) in zip(images, study) {
                XCTAssertEqual(image.d1, d.0, accuracy: 1e-6, name); XCTAssertEqual(image.d2, d.1, accuracy: 1e-6, name)
            }
        }
        XCTAssertEqual(eps.distances.standardAttackImages.map(\.image), [0, 2, 3])
        XCTAssertEqual(eps.distances.robustRecoveryImages.map(\.image), [0, 2, 3, 5])
        // "Nearer the true class", recomputed over the full attribute vectors.
        func nearer(_ v: [Float], _ c: Int, than d: Int) -> Bool {
            let to = { (k: Int) in (0..<a).reduce(0.0) { $0 + pow(Double(v[$1] - self.phi[k * a + $1]), 2) } }
            return to(c) < to(d)
        }
        for (j, i) in [0, 2, 3].enumerated() {
            let image = eps.distances.standardAttackImages[j]
            XCTAssertEqual(image.nearerTrueClass, nearer(row(clean, i), Int(labels[i]), than: Int(wrong[i])))
            XCTAssertEqual(image.adversarialNearerWrongClass, nearer(row(adv, i), Int(wrong[i]), than: Int(labels[i])))
        }
        for (j, i) in [0, 2, 3, 5].enumerated() {
            XCTAssertEqual(eps.distances.robustRecoveryImages[j].nearerTrueClass, nearer(row(robust, i), Int(labels[i]), than: Int(wrong[i])))
        }
        let metrics = try H5File.open(path("metrics.h5"))
        XCTAssertEqual(try metrics.read("eps0.1/distances/standard_attack/row", as: Int64.self).data, [0, 2, 3])
        XCTAssertEqual(try metrics.read("eps0.1/explanations/index", as: Int64.self).data, [10, 12, 13, 15])
        XCTAssertEqual(try metrics.read("eps0.1/explanations/wrong_class", as: Int32.self).data, [1, 2, 0, 1])
        // The most-risen attribute of image 0 is the argmax of Â − A.
        let change = (0..<a).map { adv[$0] - clean[$0] }
        XCTAssertEqual(Int(try metrics.read("eps0.1/explanations/rose", as: Int32.self).data[0]), change.indices.max { change[$0] < change[$1] }!)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("tables/robust_ratio.csv")))

        // The findings: the claims for a dataset of unknown kind (the directory's name says
        // nothing), each with its quote and estimates; C13's gain is recomputed here.
        let findings = document.findings
        XCTAssertEqual(findings.map(\.id), ClaimCatalog.perDataset(nil).map(\.id))
        let gain = try XCTUnwrap(findings.first { $0.id == "C13" })
        XCTAssertEqual(gain.estimates.count, 2, "f and F at one eps")
        XCTAssertEqual(gain.estimates[0].value, accuracy(general["robust-eps0.1-adv-eps0.1"]!) - accuracy(general["standard-adv-eps0.1"]!),
                       accuracy: 1e-12)
        XCTAssertTrue(gain.estimates[0].lower <= gain.estimates[0].value && gain.estimates[0].value <= gain.estimates[0].upper)
        XCTAssertFalse(gain.quote.isEmpty)
        let grounded = try XCTUnwrap(findings.first { $0.id == "C17" })
        XCTAssertEqual(grounded.verdict, .undetermined)
        XCTAssertTrue(grounded.note?.contains("ground not run") ?? false, grounded.note ?? "")
        XCTAssertTrue(result.stdout.contains("] C13 "), result.stdout)
        XCTAssertTrue(result.stdout.contains("0.1 (paper 0.2)") || result.stdout.contains("(0.2)"), result.stdout)

        // --kind fine adds the fine-grained claims.
        XCTAssertEqual(try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1", "--kind", "fine"]).status, 0)
        XCTAssertEqual(try MetricsDocument.read(path("metrics.json")).findings.map(\.id), ClaimCatalog.perDataset(.fine).map(\.id))

        // Cross-dataset mode on the same metrics twice: equal drops give a difference of exactly 0, undetermined.
        let compare = try runStage("quantify", ["--compare", path("metrics.json"), path("metrics.json"), "--output", path("findings.json")])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        let cross = try FindingsDocument.read(path("findings.json"))
        XCTAssertEqual(cross.findings.map(\.id), ClaimCatalog.across.map(\.id))
        let drop = try XCTUnwrap(cross.findings.first { $0.id == "C7" })
        XCTAssertEqual(drop.estimates[0].value, 0)
        XCTAssertEqual(drop.verdict, .undetermined)
        XCTAssertTrue(compare.stdout.contains("C7"), compare.stdout)
        XCTAssertEqual(try runStage("quantify", ["--compare", path("metrics.json")]).status, 64, "one file and no --output")
    }

    /// With --robust-eps, the one robust model robust-eps<E> is read at every eps.
    func testOneRobustModelForEveryEps() throws {
        try makeInputs()
        for dir in ["features", "attributes"] {
            for set in ["test", "adv-eps0.1", "transfer-eps0.1"] {
                try FileManager.default.moveItem(atPath: path("\(dir)/robust-eps0.1-\(set).h5"), toPath: path("\(dir)/robust-eps0.3-\(set).h5"))
            }
        }
        XCTAssertNotEqual(try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1"]).status, 0)
        let result = try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1", "--robust-eps", "0.3"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let document = try MetricsDocument.read(path("metrics.json"))
        XCTAssertEqual(try XCTUnwrap(document.record("0.1")).robustRatio.general.robustRatio, 1.0 / 3.0, accuracy: 1e-12)
    }

    func testMissingEpsAndForeignAttributesFailWithoutOutput() throws {
        try makeInputs()
        let missing = try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1", "0.2"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("standard-adv-eps0.2.h5") && missing.stderr.contains("missing"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("metrics.h5")))

        try FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try makeInputs(attributeNames: (0..<attributeCount).map { "has_other::v\($0)" })
        let foreign = try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1"])
        XCTAssertNotEqual(foreign.status, 0)
        XCTAssertTrue(foreign.stderr.contains("attribute_names"), foreign.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("metrics.h5")))
    }

    /// --aggregate over two seeds' run folders: every claim over both seeds, with each seed's
    /// value; report seeds draws a dot per seed beside each interval.
    func testAggregateOverSeeds() throws {
        try makeInputs()
        let root = directory.appendingPathComponent("runs")
        for seed in ["1", "2"] {
            let run = root.appendingPathComponent("seed-\(seed)/synth-fine")
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            for item in ["images.h5", "sje", "features", "attributes"] {
                try FileManager.default.copyItem(atPath: path(item), toPath: run.appendingPathComponent(item).path)
            }
            let result = try runStage("quantify", ["--dataset-dir", run.path, "--eps", "0.1", "--seed", seed, "--bootstrap-resamples", "200"])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("fine dataset, seed \(seed), one seed"), result.stdout)
        }
        let output = root.appendingPathComponent("seeds").path
        let runs = ["1", "2"].map { root.appendingPathComponent("seed-\($0)").path }
        let aggregate = try runStage("quantify", ["--aggregate"] + runs + ["--datasets", "synth-fine", "--output", output,
                                                                          "--bootstrap-resamples", "200"])
        XCTAssertEqual(aggregate.status, 0, aggregate.stderr)
        let document = try SeedsAggregate.read(output + "/metrics.json")
        XCTAssertEqual(document.datasets.map(\.name), ["synth-fine"])
        XCTAssertEqual(document.datasets[0].seeds, [1, 2])
        XCTAssertNil(document.across, "no coarse dataset")
        let gain = try XCTUnwrap(document.datasets[0].findings.first { $0.id == "C13" })
        XCTAssertEqual(gain.seedLabels, ["1", "2"])
        XCTAssertEqual(gain.estimates[0].perSeed.count, 2)
        XCTAssertEqual(gain.estimates[0].perSeed[0], gain.estimates[0].perSeed[1], "the same predictions under both seeds")
        let verdicts = try XCTUnwrap(document.datasets[0].seedVerdicts.first { $0.id == "C13" })
        XCTAssertEqual(verdicts.verdicts.count, 2)
        XCTAssertEqual(verdicts.verdicts[0], verdicts.verdicts[1])
        XCTAssertFalse(document.datasets[0].seedVerdicts.contains(where: \.opposite), "the same runs never disagree")
        let summary = try String(contentsOfFile: output + "/summary.txt", encoding: .utf8)
        XCTAssertTrue(summary.contains("synth-fine seeds 1, 2"))
        XCTAssertTrue(summary.contains("opposite verdicts between seeds: none"), summary)
        let table = try String(contentsOfFile: output + "/fidelity.md", encoding: .utf8)
        XCTAssertEqual(table.split(separator: "\n").count, 2 + document.datasets[0].findings.count, "header, rule, one row per finding")
        XCTAssertTrue(table.contains("| C13 |"), table)
        XCTAssertEqual(try runStage("quantify", ["--aggregate"] + runs + ["--output", output]).status, 64, "no --datasets")
        // A run folder without the dataset: an error naming the file.
        let missing = try runStage("quantify", ["--aggregate", runs[0], root.path, "--datasets", "synth-fine", "--output", output])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("\(root.path)/synth-fine/metrics.json"), missing.stderr)

        let page = try runStage("report", ["seeds", "--folder", output])
        XCTAssertEqual(page.status, 0, page.stderr)
        let html = try String(contentsOfFile: output + "/report/index.html", encoding: .utf8)
        let finite = document.datasets[0].findings.flatMap(\.estimates).filter { $0.perSeed.allSatisfy(\.isFinite) }.count
        XCTAssertEqual(html.components(separatedBy: "<circle class=\"seed\"").count - 1, 2 * finite, "a dot per seed and estimate")
        XCTAssertTrue(html.contains("Our evaluation on the standard and adversarially robust networks"), "the quote")
    }
}
