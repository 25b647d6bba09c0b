import Foundation
import Grounding
import HDF5Store
import PipelineKit
import Verdicts

/// The paper's claims in quantify's outputs: the per-image grounding items of each eps, the
/// findings of one dataset (metrics.json "findings"), across a fine and a coarse dataset
/// (`--compare`, findings.json), and over several seeds (`--aggregate`).
enum QuantifyFindings {
    /// Per eps, the grounding records of the files ground wrote (standard, robust on its own
    /// adversarials, robust on the standard model's), with items mapped to test-image
    /// positions through `testIndex` (rows of images.h5 in test-image order).
    static func groundingRecords(layout: DatasetLayout, eps: [Epsilon], testIndex: [Int64]) throws -> [String: [GroundingRecord]] {
        let position = Dictionary(testIndex.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var result: [String: [GroundingRecord]] = [:]
        for e in eps {
            for role in GroundingRole.allCases {
                let path = layout.grounding(role, eps: e)
                guard FileManager.default.fileExists(atPath: path), let name = GroundingRoleName(rawValue: role.rawValue) else { continue }
                result[e.text, default: []].append(try groundingRecord(path, role: name, position: position))
            }
        }
        return result
    }

    /// One grounding file's items, summed per image and image set.
    static func groundingRecord(_ path: String, role: GroundingRoleName, position: [Int64: Int]) throws -> GroundingRecord {
        let file = try H5File.open(path)
        defer { file.close() }
        let index = try file.read("index", as: Int64.self, expectingShape: [nil]).data
        let n = index.count
        let labels = try file.read("labels", as: Int32.self, expectingShape: [n]).data
        let hasPartTruth = try file.attribute("has_part_truth").intValue == 1
        let images = try index.map { row -> Int in
            guard let p = position[row] else {
                throw StageError("\(path): /index holds image \(row), which is not among the test images quantify read")
            }
            return p
        }
        var baselineNames: [String] = []
        func set(_ group: String) throws -> [GroundingImage] {
            let shape = try file.shape("\(group)/scored")
            guard shape.count == 2, shape[0] == n else {
                throw H5Error(file: path, object: "/\(group)/scored", message: "shape \(shape), expected [\(n), k]")
            }
            let k = shape[1]
            let scored = try file.read("\(group)/scored", as: UInt8.self).data
            let hit = try file.read("\(group)/hit", as: UInt8.self, expectingShape: [n, k]).data
            let grounded = try file.read("\(group)/grounded", as: UInt8.self, expectingShape: [n, k]).data
            let b = try file.shape("\(group)/baseline_hits").last ?? 0
            let codes = try file.read("\(group)/baseline_hits", as: UInt8.self, expectingShape: [n, k, b]).data
            let predictions = try file.read("\(group)/general_predictions", as: Int32.self, expectingShape: [n]).data
            // Energy shares with their uniform-over-the-bird level (files before the level: none).
            let energy = try file.read("\(group)/energy", as: Float.self, expectingShape: [n, k]).data
            let uniform = file.exists("\(group)/uniform_energy")
                ? try file.read("\(group)/uniform_energy", as: Float.self, expectingShape: [n, k]).data : nil
            let detectorFound = file.exists("\(group)/detector_grounded")
                ? try file.read("\(group)/detector_grounded", as: UInt8.self, expectingShape: [n, k]).data : nil
            let detectorHit = detectorFound == nil ? nil : try file.read("\(group)/detector_hit", as: UInt8.self, expectingShape: [n, k]).data
            let names = PointingBaseline.allCases.map(\.rawValue)
            baselineNames = (0..<b).map { $0 < names.count ? names[$0] : "baseline \($0)" }
            return (0..<n).map { i in
                var hits = [Int](repeating: 0, count: b), played = hits
                var s = 0, h = 0, g = 0
                for j in 0..<k where scored[i * k + j] == 1 {
                    s += 1
                    h += Int(hit[i * k + j])
                    g += Int(grounded[i * k + j])
                    for q in 0..<b {
                        let code = codes[(i * k + j) * b + q]
                        if code != PointingBaseline.notPlayed { played[q] += 1; hits[q] += code == 1 ? 1 : 0 }
                    }
                }
                var energySum: Double?, uniformSum: Double?, energyItems: Int?
                if let uniform {
                    let pairs = (0..<k).map { (energy[i * k + $0], uniform[i * k + $0]) }.filter { $0.0.isFinite && $0.1.isFinite }
                    energySum = pairs.reduce(0.0) { $0 + Double($1.0) }
                    uniformSum = pairs.reduce(0.0) { $0 + Double($1.1) }
                    energyItems = pairs.count
                }
                var detectorGrounded: Int?, detectorHits: Int?
                if let detectorFound, let detectorHit {
                    let items = (0..<k).filter { scored[i * k + $0] == 1 }
                    detectorGrounded = items.filter { detectorFound[i * k + $0] == 1 }.count
                    detectorHits = items.filter { detectorHit[i * k + $0] == 1 }.count
                }
                return GroundingImage(image: images[i], scored: s, hits: h, grounded: g, baselineHits: hits, baselinePlayed: played,
                                      generalCorrect: predictions[i] == labels[i], energy: energySum, uniformEnergy: uniformSum,
                                      energyItems: energyItems, detectorGrounded: detectorGrounded, detectorHits: detectorHits)
            }
        }
        let clean = try set("clean"), adversarial = try set("adversarial")
        return GroundingRecord(role: role, path: path, hasPartTruth: hasPartTruth, baselines: baselineNames, clean: clean,
                               adversarial: adversarial)
    }

    /// Reads the metrics.json files of several seeds of one dataset; they must share eps and kind.
    static func readSeeds(_ paths: [String]) throws -> [MetricsDocument] {
        let documents = try paths.map { path in
            do { return try MetricsDocument.read(path) } catch { throw StageError("\(error)") }
        }
        if let first = documents.first {
            for (path, d) in zip(paths, documents) where d.eps != first.eps || d.kind != first.kind || d.name != first.name {
                throw StageError("\(path): dataset \(d.name), eps \(d.eps.joined(separator: " ")) do not match \(paths[0])'s "
                                 + "(\(first.name), \(first.eps.joined(separator: " "))): seeds of one dataset were expected")
            }
        }
        return documents
    }

    /// Writes the cross-dataset findings of fine and coarse runs to `output`; returns them.
    static func compare(fine: [String], coarse: [String], output: String, settings: BootstrapSettings) throws -> FindingsDocument {
        let (f, c) = (try readSeeds(fine), try readSeeds(coarse))
        let document = FindingsDocument(fine: fine, coarse: coarse,
                                        findings: ClaimCatalog.evaluate(fine: f, coarse: c, settings: settings))
        try AtomicOutput.write(to: output) { try JSONFiles.write(document, to: $0) }
        return document
    }

    /// `--aggregate`: reads `<run>/<ds>/metrics.json` for every run folder and dataset, writes
    /// the aggregate's metrics.json, summary.txt and results table (`SeedsLayout` under `output`;
    /// docs/fidelity.md is a measured run's table), and returns the summary text.
    static func aggregate(runs: [String], datasets: [String], output: String, settings: BootstrapSettings) throws -> String {
        var entries: [SeedsAggregate.Dataset] = []
        var documents: [String: [MetricsDocument]] = [:]
        for name in datasets {
            let paths = runs.map { DataLayout(root: $0).dataset(name).metricsJSON }
            let seeds = try readSeeds(paths)
            documents[name] = seeds
            entries.append(.init(name: name, kind: seeds.first?.kind, seeds: seeds.map(\.seed), metrics: paths,
                                 findings: ClaimCatalog.evaluate(dataset: seeds, settings: settings),
                                 seedVerdicts: SeedVerdicts.collect(seeds.map(\.findings))))
        }
        let fine = entries.first { $0.kind == .fine }, coarse = entries.first { $0.kind == .coarse }
        var across: FindingsDocument?
        var acrossSeeds: [SeedVerdicts] = []
        if let fine, let coarse, let f = documents[fine.name], let c = documents[coarse.name] {
            across = FindingsDocument(fine: fine.metrics, coarse: coarse.metrics,
                                      findings: ClaimCatalog.evaluate(fine: f, coarse: c, settings: settings))
            // Each run's own cross-dataset verdicts (the seeds paired in order, as the runs were).
            acrossSeeds = SeedVerdicts.collect(zip(f, c).map { ClaimCatalog.evaluate(fine: [$0], coarse: [$1], settings: settings) })
        }
        let aggregate = SeedsAggregate(datasets: entries, across: across, acrossSeedVerdicts: acrossSeeds, bootstrap: settings)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try AtomicOutput.write(to: SeedsLayout(root: output).metricsJSON) { try JSONFiles.write(aggregate, to: $0) }
        var lines = ["the paper's claims over \(runs.count) seed\(runs.count == 1 ? "" : "s") (\(runs.joined(separator: ", "))): "
                     + "estimate = mean over seeds; 95% interval = bootstrap over seeds and test images; per-seed values listed"]
        for entry in entries {
            lines += ["", "\(entry.name) (\(entry.kind?.rawValue ?? "kind unknown"), seeds \(entry.seeds.map(String.init).joined(separator: ", "))): "
                      + Finding.tally(entry.findings)] + SeedVerdicts.lines(entry.seedVerdicts) + Finding.lines(entry.findings)
        }
        if let across {
            lines += ["", "across datasets (fine vs coarse): " + Finding.tally(across.findings)] + SeedVerdicts.lines(acrossSeeds)
                + Finding.lines(across.findings)
        }
        let text = lines.joined(separator: "\n") + "\n"
        try AtomicOutput.write(to: SeedsLayout(root: output).summary) { try text.write(toFile: $0, atomically: false, encoding: .utf8) }
        // The fidelity table (docs/fidelity.md holds a measured one), from this aggregate.
        var rows = [Finding.markdownHeader]
        for entry in entries { rows += entry.findings.map { $0.markdownRow(dataset: entry.name) } }
        if let across { rows += across.findings.map { $0.markdownRow(dataset: "fine vs coarse") } }
        let table = rows.joined(separator: "\n") + "\n"
        try AtomicOutput.write(to: SeedsLayout(root: output).fidelity) { try table.write(toFile: $0, atomically: false, encoding: .utf8) }
        return text
    }
}
