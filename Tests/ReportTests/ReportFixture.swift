import Foundation
import HDF5Store
import TestSupport
import Verdicts
import XCTest

/// A tiny dataset folder with everything the report reads, written by hand except
/// metrics.h5 / metrics.json, which the real quantify binary computes from hand-made
/// predictions (so the report is tested against quantify's actual schema).
/// 3 classes, 16 px images, 6 test images (rows 4, 9, 14, 19, 24, 29 of images.h5).
struct ReportFixture {
    let directory: URL
    let eps: [String]
    let testRows: [Int64] = [4, 9, 14, 19, 24, 29]
    let labels: [Int32] = [0, 0, 1, 1, 2, 2]
    let classes = 3, attributes = 4, size = 16, k = 3

    var path: String { directory.path }
    func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Predictions per file stem, f and F; the standard model is fooled on rows 0, 2, 3 (clean-correct).
    func predictions(_ set: String, attributeBased: Bool) -> [Int32] {
        switch set {
        case "standard-test": return attributeBased ? [0, 0, 1, 2, 2, 2] : [0, 0, 1, 1, 2, 0]
        case _ where set.hasPrefix("standard-adv"): return attributeBased ? [1, 1, 2, 0, 2, 2] : [1, 0, 2, 0, 2, 1]
        case _ where set.hasSuffix("-test"): return attributeBased ? [0, 0, 1, 1, 2, 1] : [0, 0, 1, 1, 2, 2]
        case _ where set.contains("transfer"): return attributeBased ? [0, 0, 1, 1, 0, 2] : [0, 1, 1, 1, 2, 2]
        default: return attributeBased ? [0, 1, 1, 0, 1, 2] : [0, 0, 1, 0, 2, 1]
        }
    }

    /// Writes the inputs and runs quantify; `grounding` adds grounding files (with part truth or without).
    static func make(_ label: String, eps: [String] = ["0.01", "0.06"], grounding: Bool? = true) throws -> ReportFixture {
        let root = try TestPaths.temporaryDirectory(label)
        let fixture = ReportFixture(directory: root.appendingPathComponent("synth-tiny"), eps: eps)
        try FileManager.default.createDirectory(at: fixture.directory, withIntermediateDirectories: true)
        try fixture.writeInputs()
        let result = try runStage("quantify", ["--dataset-dir", fixture.path, "--eps"] + eps)
        XCTAssertEqual(result.status, 0, result.stderr)
        if let partTruth = grounding { try fixture.writeGrounding(partTruth: partTruth) }
        return fixture
    }

    func writeInputs() throws {
        try makeTinyImages(at: file("images.h5"), classes: classes, perClass: 10, size: size)
        let phi: [Float] = [0.9, 0.1, 0.3, 0.0, 0.2, 0.8, 0.1, 0.5, 0.1, 0.3, 0.9, 0.2]
        let classNames = (0..<classes).map { "class_\($0)" }
        let attributeNames = (0..<attributes).map { "has_primary_color::c\($0)" }
        for dir in ["sje", "features", "attributes", "adv"] {
            try FileManager.default.createDirectory(atPath: file(dir), withIntermediateDirectories: true)
        }
        let sje = try H5File.create(file("sje/standard.h5"))
        try sje.write("class_embeddings", phi, shape: [classes, attributes])
        sje.close()
        let n = labels.count
        var sets = ["standard-test"]
        for e in eps { sets += ["standard-adv-eps\(e)", "robust-eps\(e)-test", "robust-eps\(e)-adv-eps\(e)", "robust-eps\(e)-transfer-eps\(e)"] }
        for (s, set) in sets.enumerated() {
            let f = try H5File.create(file("features/\(set).h5"))
            try f.write("features", [Float](repeating: 0.5, count: n * 2), shape: [n, 2])
            try f.write("predictions", predictions(set, attributeBased: false), shape: [n])
            try f.write("labels", labels, shape: [n])
            try f.write("index", testRows, shape: [n])
            // Logits that favour the prediction, more strongly for later rows.
            let p = predictions(set, attributeBased: false)
            try f.write("logits", (0..<(n * classes)).map { i in Float(p[i / classes]) == Float(i % classes) ? 1 + Float(i / classes) : 0 },
                        shape: [n, classes])
            f.close()
            let a = try H5File.create(file("attributes/\(set).h5"))
            try a.write("predictions", predictions(set, attributeBased: true), shape: [n])
            try a.write("labels", labels, shape: [n])
            try a.write("index", testRows, shape: [n])
            try a.write("attributes", (0..<(n * attributes)).map { Float(($0 * 7 + s * 3) % 11) / 11 }, shape: [n, attributes])
            try a.writeStrings("class_names", classNames)
            try a.writeStrings("attribute_names", attributeNames)
            a.close()
        }
        // Adversarial images: the clean pixels, shifted per model so the two differ visibly.
        let images = try H5File.open(file("images.h5"))
        var clean: [Float] = []
        for row in testRows { clean += try images.readRows("images", Int(row)..<(Int(row) + 1), as: UInt8.self).data.map { Float($0) / 255 } }
        images.close()
        for e in eps {
            for (model, shift) in [("standard", Float(0.08)), ("robust-eps\(e)", Float(-0.08))] {
                let adv = try H5File.create(file("adv/\(model)-eps\(e).h5"))
                try adv.write("images", clean.enumerated().map { max(0, min(1, $0.element + ($0.offset % 2 == 0 ? shift : -shift))) },
                              shape: [n, size, size, 3])
                try adv.write("index", testRows, shape: [n])
                try adv.write("labels", labels, shape: [n])
                try adv.write("clean_predictions", predictions(model == "standard" ? "standard-test" : "\(model)-test", attributeBased: false), shape: [n])
                try adv.write("adv_predictions", predictions(model == "standard" ? "standard-adv-eps\(e)" : "\(model)-adv-eps\(e)", attributeBased: false),
                              shape: [n])
                adv.close()
            }
        }
    }

    /// Grounding files in the ground stage's schema, with made-up but well-formed values.
    func writeGrounding(partTruth: Bool) throws {
        try FileManager.default.createDirectory(atPath: file("grounding"), withIntermediateDirectories: true)
        let n = labels.count, h = 4, w = 4
        for e in eps {
            for (r, name) in ["standard-eps\(e)", "robust-eps\(e)-eps\(e)", "robust-eps\(e)-transfer-eps\(e)"].enumerated() {
                let g = try H5File.create(file("grounding/\(name).h5"))
                try g.write("index", testRows, shape: [n])
                try g.write("labels", labels, shape: [n])
                for (s, set) in ["clean", "adversarial"].enumerated() {
                    try g.write("\(set)/predictions", labels, shape: [n])
                    try g.write("\(set)/general_predictions", labels, shape: [n])
                    try g.write("\(set)/attributes", (0..<(n * k)).map { Int32(($0 + s + r) % attributes) }, shape: [n, k])
                    try g.write("\(set)/scores", (0..<(n * k)).map { Float(k - $0 % k) }, shape: [n, k])
                    try g.write("\(set)/peaks", (0..<(n * k)).flatMap { [Float(($0 * 5) % size), Float(($0 * 3) % size)] }, shape: [n, k, 2])
                    try g.write("\(set)/hit", (0..<(n * k)).map { UInt8(($0 + s) % 2) }, shape: [n, k])
                    try g.write("\(set)/grounded", (0..<(n * k)).map { UInt8(partTruth && ($0 + s) % 2 == 0 ? 1 : 0) }, shape: [n, k])
                    try g.write("\(set)/energy", [Float](repeating: partTruth ? 0.5 : .nan, count: n * k), shape: [n, k])
                    try g.write("\(set)/maps", (0..<(n * k * h * w)).map { Float(($0 * 13) % 17) / 17 }, shape: [n, k, h, w])
                }
                try g.write("reference/attributes", (0..<(n * k)).map { Int32($0 % attributes) }, shape: [n, k])
                try g.write("attribute_parts", (0..<(attributes * 2)).map { $0 % 2 == 0 ? Int32($0 / 2 % 3) : -1 }, shape: [attributes, 2])
                try g.writeStrings("part_names", ["crown", "breast", "wing"])
                try g.setAttribute("method", .string("cam"))
                try g.setAttribute("top_k", .int(Int64(k)))
                try g.setAttribute("tolerance_px", .double(2))
                try g.setAttribute("eps", .double(Double(e)!))
                try g.setAttribute("model", .string(r == 0 ? "standard" : "robust-eps\(e)"))
                try g.setAttribute("has_part_truth", .int(partTruth ? 1 : 0))
                for set in ["clean", "adversarial"] {
                    let v = partTruth ? 1.0 : Double.nan
                    try g.setAttribute("pointing_accuracy_\(set)", .double(v * (set == "clean" ? 0.7 : 0.4) - Double(r) * 0.05))
                    try g.setAttribute("grounded_fraction_\(set)", .double(v * (set == "clean" ? 0.6 : 0.3)))
                    try g.setAttribute("baseline_random_\(set)", .double(v * 0.2))
                    try g.setAttribute("baseline_centre_\(set)", .double(v * 0.35))
                    try g.setAttribute("baseline_box_centre_\(set)", .double(v * 0.45))
                }
                g.close()
            }
        }
    }

    /// Replaces metrics.json's findings with three made-up ones, one per verdict.
    func addFindings() throws {
        var document = try MetricsDocument.read(file("metrics.json"))
        document.findings = ReportFixture.madeUpFindings
        try document.write(to: file("metrics.json"))
    }

    /// Three findings, one per verdict, with estimates over three seeds.
    static var madeUpFindings: [Finding] {
        func estimate(_ value: Double, _ lower: Double, _ upper: Double, _ verdict: Verdict) -> Estimate {
            Estimate(label: "ε 0.005 px (paper 0.01): a share", value: value, lower: lower, upper: upper, criterion: .above(0.5),
                     verdict: verdict, perSeed: [value - 0.02, value, value + 0.02], seedDeviation: 0.02, resamples: 200,
                     undefinedResamples: 0, note: nil, unit: .percent)
        }
        func finding(_ id: String, _ claim: String, _ e: Estimate) -> Finding {
            Finding(id: id, claim: claim, quote: "A quoted sentence of \(id).", section: "§ 5", kind: "both", metric: "a share",
                    criterion: "> 1/2", reading: nil, seeds: ["synth-tiny seeds 1, 2, 3"], seedLabels: ["1", "2", "3"],
                    estimates: [e], note: nil)
        }
        return [finding("X1", "Accuracy drops under attack", estimate(0.8, 0.7, 0.9, .reproduced)),
                finding("X2", "Robust training recovers accuracy", estimate(0.3, 0.2, 0.4, .contradicted)),
                finding("X3", "Adversarial attributes are grounded less", estimate(0.5, 0.4, 0.6, .undetermined))]
    }
}

/// Every relative `src`/`href` of an HTML page, and any that point outside (a scheme or `//`).
func links(in html: String) -> (relative: [String], external: [String]) {
    let regex = try! NSRegularExpression(pattern: "(?:src|href)=\"([^\"]*)\"")
    var relative: [String] = [], external: [String] = []
    for match in regex.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
        let value = String(html[Range(match.range(at: 1), in: html)!])
        if value.hasPrefix("#") { continue }
        if value.contains("://") || value.hasPrefix("//") || value.hasPrefix("data:") || value.hasPrefix("/") { external.append(value) } else { relative.append(value) }
    }
    return (relative, external)
}
