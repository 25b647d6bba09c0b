import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// `attack --method` beyond IFGSM as a binary on a tiny 5-class image set: every method
/// writes the adversarial schema with its norms and settings, budgets hold, AutoAttack is at
/// least as strong as APGD-CE, bad budgets are usage errors, and a resumed attack with other
/// settings starts afresh.
final class AttackMethodStageTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("attack-methods") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func setUpModel() throws -> (images: String, model: String) { try makeTinyModel(in: directory, epochs: 2) }

    func testEveryMethodWritesTheSchemaWithinItsBudget() throws {
        let (images, model) = try setUpModel()
        let runs: [(String, [String])] = [
            ("apgd-ce", ["--eps", "0.03", "--steps", "10"]),
            ("apgd-dlr", ["--eps", "0.03", "--steps", "10", "--targets", "3"]),
            ("square", ["--eps", "0.03", "--queries", "50"]),
            ("autoattack", ["--eps", "0.03", "--steps", "10", "--queries", "50"]),
            ("cw-l2", ["--l2-eps", "0.4", "--steps", "20", "--search-steps", "2"]),
            ("deepfool", ["--l2-eps", "0.4", "--steps", "10"]),
        ]
        var robust: [String: Double] = [:]
        for (method, options) in runs {
            let output = path("\(method).h5")
            let result = try runStage("attack", ["--images", images, "--model", model, "--method", method, "--output", output,
                                                 "--batch-size", "7"] + options)
            XCTAssertEqual(result.status, 0, "\(method): \(result.stderr)")
            XCTAssertTrue(result.stdout.contains(method), result.stdout)
            let file = try H5File.open(output)
            defer { file.close() }
            XCTAssertEqual(try file.attribute("method").stringValue, method)
            let l2 = method == "cw-l2" || method == "deepfool"
            XCTAssertEqual(try file.attribute("norm").stringValue, l2 ? "l2" : "linf")
            let n = try file.shape("index")[0]
            let norms = try file.read("perturbation_norm", as: Float.self).data
            let minimal = try file.read("minimal_norm", as: Float.self).data
            XCTAssertEqual(norms.count, n)
            XCTAssertEqual(minimal.count, n)
            let eps = Float(try file.attribute("eps").doubleValue!)
            XCTAssertTrue(norms.allSatisfy { $0 <= eps * (1 + 1e-5) + 1e-6 }, "\(method): \(norms.max()!) > \(eps)")
            XCTAssertEqual(Double(norms.max() ?? 0), try file.attribute("max_norm").doubleValue!, accuracy: 1e-9)
            if method == "apgd-dlr" { XCTAssertEqual(try file.attribute("targets").intValue, 3) }
            if method == "autoattack" { XCTAssertEqual(try file.attribute("targets").intValue, 4, "default: classes − 1 below 10") }
            if method == "square" { XCTAssertEqual(try file.attribute("queries").intValue, 50) }
            if method == "cw-l2" { XCTAssertEqual(try file.attribute("search_steps").intValue, 2) }
            robust[method] = try file.attribute("robust_accuracy").doubleValue!
            // Downstream stages read every method's file (the L2 files' budget checked in L2).
            let features = try runStage("extract-features", ["--model", model, "--adversarial", output, "--output", path("f-\(method).h5")])
            XCTAssertEqual(features.status, 0, "\(method): \(features.stderr)")
        }
        XCTAssertLessThanOrEqual(robust["autoattack"]!, robust["apgd-ce"]!)
    }

    /// attack-summary on a DeepFool file with --images: the closest (true, wrong) class pairs by
    /// median minimal L2 norm, ascending, each with the three attributes whose class values
    /// differ most; worst case and per-attack accuracy as for any attack.
    func testMinimalAttackGivesTheClosestClassPairs() throws {
        let (images, model) = try setUpModel()
        let deepfool = path("deepfool.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--method", "deepfool", "--l2-eps", "50",
                                               "--steps", "20", "--output", deepfool]).status, 0)
        let summary = path("summary.json")
        let result = try runStage("attack-summary", ["--adversarial", deepfool, "--images", images, "--output", summary, "--pairs", "3"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("closest class pairs"), result.stdout)
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as! [String: Any]
        let files = document["closest_pairs"] as! [[String: Any]]
        XCTAssertEqual(files.count, 1)
        let pairs = files[0]["pairs"] as! [[String: Any]]
        XCTAssertFalse(pairs.isEmpty, "DeepFool moved no image")
        XCTAssertLessThanOrEqual(pairs.count, 3)
        let norms = pairs.map { $0["median_minimal_norm"] as! Double }
        XCTAssertEqual(norms, norms.sorted())
        let file = try H5File.open(images)
        let names = try file.readStrings("class_names"), attributes = try file.readStrings("attribute_names")
        let phi = try file.read("class_attributes", as: Float.self).data
        file.close()
        for pair in pairs {
            let (t, w) = (names.firstIndex(of: pair["true_class"] as! String)!, names.firstIndex(of: pair["wrong_class"] as! String)!)
            XCTAssertNotEqual(t, w)
            let separating = pair["separating_attributes"] as! [[String: Any]]
            XCTAssertEqual(separating.count, min(3, attributes.count))
            let largest = attributes.indices.map { abs(phi[t * attributes.count + $0] - phi[w * attributes.count + $0]) }.max()!
            XCTAssertEqual(abs(separating[0]["difference"] as! Double), Double(largest), accuracy: 1e-6)
        }
    }

    /// attack-summary --minimal with predicted attributes: the minimal-norm file takes no part in
    /// the worst case, and each pair lists the attributes that moved (largest |mean Â − A| over
    /// the pair's images, checked here against attribute files written by hand) and the cosine
    /// of that change with φ̂(wrong) − φ̂(true).
    func testMinimalAttackListsTheAttributesThatMoved() throws {
        let (images, model) = try setUpModel()
        let deepfool = path("deepfool.h5"), ifgsm = path("ifgsm.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--method", "deepfool", "--l2-eps", "1000",
                                               "--steps", "20", "--output", deepfool]).status, 0)
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--eps", "0.03", "--output", ifgsm]).status, 0)
        let adv = try H5File.open(deepfool)
        let index = try adv.read("index", as: Int64.self).data
        let labels = try adv.read("labels", as: Int32.self).data, clean = try adv.read("clean_predictions", as: Int32.self).data
        let moved = try adv.read("adv_predictions", as: Int32.self).data
        adv.close()
        let file = try H5File.open(images)
        let names = try file.readStrings("class_names"), attributes = try file.readStrings("attribute_names")
        let phi = try file.read("class_attributes", as: Float.self).data
        file.close()
        let a = attributes.count, n = index.count
        // Made-up predicted attributes: clean rows i·0.01 + a·0.001, adversarial rows the clean
        // ones plus a change that grows with the attribute and the image, and the clean file in
        // reverse row order (attack-summary matches rows by image index).
        func cleanRow(_ i: Int) -> [Float] { (0..<a).map { Float(i) * 0.01 + Float($0) * 0.001 } }
        func change(_ i: Int, _ k: Int) -> Float { Float(k % 3) * 0.1 - Float(i % 2) * 0.05 + (k == 1 ? 0.3 : 0) }
        let minimalAttributes = path("a-deepfool.h5"), cleanAttributes = path("a-clean.h5")
        let out = try H5File.create(minimalAttributes)
        try out.write("index", index, shape: [n])
        try out.write("attributes", (0..<n).flatMap { i in cleanRow(i).enumerated().map { $1 + change(i, $0) } }, shape: [n, a])
        out.close()
        let reversed = try H5File.create(cleanAttributes)
        try reversed.write("index", Array(index.reversed()), shape: [n])
        try reversed.write("attributes", (0..<n).reversed().flatMap(cleanRow), shape: [n, a])
        reversed.close()

        let summary = path("summary.json")
        let result = try runStage("attack-summary", ["--adversarial", ifgsm, "--images", images, "--minimal", deepfool,
                                                     "--minimal-attributes", minimalAttributes, "--clean-attributes", cleanAttributes,
                                                     "--output", summary, "--pairs", "20"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as! [String: Any]
        XCTAssertEqual((document["groups"] as! [[String: Any]]).count, 1, "the minimal-norm file is no group of the worst case")
        let entry = (document["closest_pairs"] as! [[String: Any]])[0]
        XCTAssertEqual(entry["method"] as? String, "deepfool")
        let pairs = entry["pairs"] as! [[String: Any]]
        XCTAssertFalse(pairs.isEmpty, "DeepFool moved no image")
        for pair in pairs {
            let (t, w) = (names.firstIndex(of: pair["true_class"] as! String)!, names.firstIndex(of: pair["wrong_class"] as! String)!)
            let rows = (0..<n).filter { labels[$0] == t && clean[$0] == t && moved[$0] == w }
            XCTAssertEqual(pair["images"] as? Int, rows.count)
            let mean = (0..<a).map { k in rows.map { change($0, k) }.reduce(0, +) / Float(rows.count) }
            let expected = (0..<a).sorted { abs(mean[$0]) > abs(mean[$1]) || (abs(mean[$0]) == abs(mean[$1]) && attributes[$0] < attributes[$1]) }
            let listed = pair["moved_attributes"] as! [[String: Any]]
            XCTAssertEqual(listed.map { $0["attribute"] as! String }, expected.prefix(3).map { attributes[$0] })
            XCTAssertEqual(listed[0]["change"] as! Double, Double(mean[expected[0]]), accuracy: 1e-5)
            func norm(_ v: [Float]) -> Float { v.map { $0 * $0 }.reduce(0, +).squareRoot() }
            let phiWrong = Array(phi[(w * a)..<((w + 1) * a)]), phiTrue = Array(phi[(t * a)..<((t + 1) * a)])
            let (nw, nt) = (norm(phiWrong), norm(phiTrue))
            let direction: [Float] = (0..<a).map { phiWrong[$0] / nw - phiTrue[$0] / nt }
            let dot: Float = (0..<a).map { mean[$0] * direction[$0] }.reduce(0, +)
            let cosine: Float = dot / (norm(mean) * norm(direction))
            XCTAssertEqual(pair["toward_wrong_class"] as! Double, Double(cosine), accuracy: 1e-4)
        }
        // Attribute rows of other images than the minimal file's are refused, naming the file.
        let mismatched = try runStage("attack-summary", ["--adversarial", ifgsm, "--images", images, "--minimal", deepfool,
                                                         "--minimal-attributes", cleanAttributes, "--clean-attributes", cleanAttributes,
                                                         "--output", path("bad.json")])
        XCTAssertEqual(mismatched.status, 1, mismatched.stderr)
        XCTAssertTrue(mismatched.stderr.contains("a-clean.h5"), mismatched.stderr)
        let usage = try runStage("attack-summary", ["--adversarial", ifgsm, "--minimal", deepfool, "--output", path("bad.json")])
        XCTAssertEqual(usage.status, 64, usage.stderr)
        XCTAssertTrue(usage.stderr.contains("--images"), usage.stderr)
    }

    func testBadBudgetsAndTargetsAreUsageErrors() throws {
        let (images, model) = try setUpModel()
        let base = ["--images", images, "--model", model, "--output", path("bad.h5")]
        let cases: [([String], String)] = [
            (["--method", "apgd-ce", "--l2-eps", "0.5"], "--l2-eps"),
            (["--method", "cw-l2", "--eps", "0.03"], "--eps"),
            (["--method", "deepfool", "--l2-eps", "nan"], "--l2-eps"),
            (["--method", "cw-l2", "--l2-eps=-1"], "--l2-eps"),
            (["--method", "square", "--eps", "inf"], "--eps"),
            (["--method", "apgd-dlr", "--eps", "0.03", "--targets", "5"], "--targets"),
            (["--method", "ifgsm", "--eps", "0.03", "--queries", "5"], "--queries"),
        ]
        for (options, named) in cases {
            let result = try runStage("attack", base + options)
            XCTAssertEqual(result.status, 64, "\(options): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(named), "\(options): \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.h5")))
        }
    }

    /// The finished batches of an APGD-CE run whose final write failed are not resumed by a
    /// Square run on the same output, nor by APGD-CE with other steps: each starts afresh and
    /// writes what a fresh run writes.
    func testResumeWithOtherSettingsRestarts() throws {
        let (images, model) = try setUpModel()
        let output = path("adv.h5")
        let common = ["--images", images, "--model", model, "--eps", "0.03", "--batch-size", "4", "--resume"]
        let fault = ["ATTRIB_ADV_INJECT_FAULT": "close:adv.h5.partial"]   // the final file, not the batches
        for other in [["--method", "square", "--queries", "20"], ["--method", "apgd-ce", "--steps", "7"]] {
            let failed = try runStage("attack", common + ["--output", output, "--method", "apgd-ce", "--steps", "5"],
                                      environment: fault)
            XCTAssertNotEqual(failed.status, 0)
            XCTAssertTrue(FileManager.default.fileExists(atPath: output + ".checkpoint"), "the finished batches stay")
            let reference = path("reference.h5")
            try? FileManager.default.removeItem(atPath: reference)
            XCTAssertEqual(try runStage("attack", common + ["--output", reference] + other).status, 0)
            let resumed = try runStage("attack", common + ["--output", output] + other)
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertTrue(resumed.stderr.contains("other settings"), resumed.stderr)
            let expected = try H5File.open(reference), actual = try H5File.open(output)
            XCTAssertEqual(try actual.read("images", as: Float.self).data, try expected.read("images", as: Float.self).data)
            XCTAssertEqual(try actual.attribute("steps"), try expected.attribute("steps"))
            XCTAssertEqual(try actual.attribute("method"), try expected.attribute("method"))
            actual.close()
            expected.close()
            try FileManager.default.removeItem(atPath: output)
        }
    }
}
