import Foundation
import Verdicts
import XCTest

/// The verdict rules on constructed metrics: reproduced, contradicted, undetermined, ties,
/// 0% adversarial accuracy, everything recovered, an attack that costs nothing, one seed
/// against three, the two readings of R.
final class VerdictRuleTests: XCTestCase {
    let settings = BootstrapSettings(resamples: 400, seed: 7)

    func claims(_ run: ConstructedRun) -> [Finding] { ClaimCatalog.evaluate(dataset: [run.document], settings: settings) }

    func testIntervalRules() {
        XCTAssertEqual(Criterion.above(0).verdict(lower: 0.01, upper: 0.2), .reproduced)
        XCTAssertEqual(Criterion.above(0).verdict(lower: -0.2, upper: -0.01), .contradicted)
        XCTAssertEqual(Criterion.above(0).verdict(lower: -0.1, upper: 0.1), .undetermined)
        XCTAssertEqual(Criterion.above(0).verdict(lower: 0, upper: 0.1), .undetermined, "touching the boundary is not beyond it")
        XCTAssertEqual(Criterion.above(0).verdict(lower: 0, upper: 0), .undetermined, "an exact tie")
        XCTAssertEqual(Criterion.below(0.5).verdict(lower: 0.1, upper: 0.4), .reproduced)
        XCTAssertEqual(Criterion.below(0.5).verdict(lower: 0.6, upper: 0.9), .contradicted)
        XCTAssertEqual(Criterion.inside(-0.04, 0.04).verdict(lower: -0.01, upper: 0.03), .reproduced)
        XCTAssertEqual(Criterion.inside(-0.04, 0.04).verdict(lower: 0.05, upper: 0.09), .contradicted)
        XCTAssertEqual(Criterion.inside(-0.04, 0.04).verdict(lower: 0.01, upper: 0.09), .undetermined)
        XCTAssertEqual(Criterion.above(0).verdict(lower: .nan, upper: .nan), .undetermined)
        XCTAssertEqual(Verdict.all([.reproduced, .reproduced]), .reproduced)
        XCTAssertEqual(Verdict.all([.reproduced, .undetermined]), .undetermined)
        XCTAssertEqual(Verdict.all([.reproduced, .contradicted, .undetermined]), .contradicted)
        XCTAssertEqual(Verdict.all([]), .undetermined)
    }

    /// C13 (adversarial training improves accuracy under attack) on clear gains, clear
    /// losses, and a one-point gain on 100 images.
    func testReproducedContradictedUndetermined() throws {
        var run = ConstructedRun()
        run.set(0.9, .standardClean); run.set(0.3, .standardAdversarial); run.set(0.8, .robustAdversarial)
        let gain = try XCTUnwrap(claims(run).finding("C13"))
        XCTAssertEqual(gain.verdict, .reproduced, gain.lines.joined(separator: "\n"))
        XCTAssertEqual(gain.estimates.count, 6, "f and F at three eps")
        for e in gain.estimates {
            XCTAssertEqual(e.value, 0.5, accuracy: 1e-12)
            XCTAssertLessThan(e.lower, 0.5); XCTAssertGreaterThan(e.upper, 0.5); XCTAssertGreaterThan(e.lower, 0)
        }

        run.set(0.2, .robustAdversarial)
        XCTAssertEqual(claims(run).finding("C13")?.verdict, .contradicted)

        var small = ConstructedRun(); small.n = 100
        small.set(0.9, .standardClean); small.set(0.50, .standardAdversarial); small.set(0.51, .robustAdversarial)
        let close = try XCTUnwrap(claims(small).finding("C13"))
        XCTAssertEqual(close.verdict, .undetermined, close.lines.joined(separator: "\n"))
        // The robust model's right images include the standard model's (the first 51 vs the
        // first 50), so no resample goes below 0: the interval touches the boundary.
        XCTAssertTrue(close.estimates.allSatisfy { $0.lower == 0 && $0.upper > 0 })
    }

    /// Equal predictions image by image: every resample gives exactly 0, an exact tie.
    func testTiesAreUndetermined() throws {
        var run = ConstructedRun()
        run.set(0.9, .standardClean); run.set(0.4, .standardAdversarial); run.set(0.4, .robustAdversarial)
        let tie = try XCTUnwrap(claims(run).finding("C13"))
        XCTAssertEqual(tie.verdict, .undetermined)
        for e in tie.estimates { XCTAssertEqual(e.lower, 0); XCTAssertEqual(e.upper, 0); XCTAssertEqual(e.verdict, .undetermined) }
    }

    /// 0% adversarial accuracy at the two larger budgets: accuracy cannot drop further, so
    /// C6's last step is undetermined (not reproduced); R is still defined.
    func testZeroAdversarialAccuracy() throws {
        var run = ConstructedRun()
        run.set(0.9, .standardClean)
        run.set(0.4, .standardAdversarial, eps: ["0.005"]); run.set(0, .standardAdversarial, eps: ["0.03", "0.06"])
        run.set(0.5, .robustAdversarial)
        let drops = try XCTUnwrap(claims(run).finding("C6"))
        XCTAssertEqual(drops.verdict, .undetermined, drops.lines.joined(separator: "\n"))
        let last = try XCTUnwrap(drops.estimates.first { $0.label.hasPrefix("f: adv at 0.03") })
        XCTAssertEqual(last.value, 0); XCTAssertEqual(last.verdict, .undetermined)
        XCTAssertEqual(drops.estimates.filter { $0.verdict == .reproduced }.count, 4, "clean → 0.005 and 0.005 → 0.03 for f and F")
        // R = (0.9 − 0.5) / (0.9 − 0) at 0.03 and 0.06: R does not increase there (a tie).
        let rising = try XCTUnwrap(claims(run).finding("C4 (R)"))
        XCTAssertEqual(rising.estimates.count, 2)
        XCTAssertEqual(rising.estimates[1].value, 0, accuracy: 1e-12)
        XCTAssertEqual(rising.estimates[1].verdict, .undetermined)
    }

    /// Everything recovered (R = 0 at every eps): R neither rises nor falls, both readings
    /// of C4 are undetermined; an attack that costs nothing leaves R undefined.
    func testEverythingRecoveredAndNothingLost() throws {
        var run = ConstructedRun()
        run.set(0.9, .standardClean); run.set(0.9, .robustAdversarial)
        run.set(0.5, .standardAdversarial, eps: ["0.005"]); run.set(0.3, .standardAdversarial, eps: ["0.03"])
        run.set(0.1, .standardAdversarial, eps: ["0.06"])
        let findings = claims(run)
        for id in ["C4 (R)", "C4 (1−R)"] {
            let f = try XCTUnwrap(findings.finding(id))
            XCTAssertEqual(f.verdict, .undetermined, id)
            XCTAssertTrue(f.estimates.allSatisfy { $0.value == 0 && $0.lower == 0 && $0.upper == 0 }, id)
        }
        XCTAssertEqual(findings.finding("C13")?.verdict, .reproduced)

        var free = ConstructedRun()
        free.set(0.9, .standardClean); free.set(0.9, .standardAdversarial); free.set(0.9, .robustAdversarial)
        let undefined = try XCTUnwrap(claims(free).finding("C4 (R)"))
        XCTAssertEqual(undefined.verdict, .undetermined)
        XCTAssertTrue(undefined.estimates.allSatisfy { $0.value.isNaN && ($0.note ?? "").contains("undefined") })
    }

    /// The two readings of R are opposite tests: at most one is reproduced.
    func testTheTwoReadingsOfR() throws {
        var run = ConstructedRun()
        run.set(0.9, .standardClean); run.set(0.8, .robustAdversarial, eps: ["0.005"])
        run.set(0.5, .robustAdversarial, eps: ["0.03"]); run.set(0.2, .robustAdversarial, eps: ["0.06"])
        run.set(0.3, .standardAdversarial)
        let findings = claims(run)
        XCTAssertEqual(findings.finding("C4 (R)")?.verdict, .reproduced, "R rises 1/6 → 2/3 → 7/6")
        XCTAssertEqual(findings.finding("C4 (1−R)")?.verdict, .contradicted)
        XCTAssertNotNil(findings.finding("C4 (R)")?.reading)
    }

    /// One seed against three: each seed alone is decided (two one way, one the other);
    /// over the three seeds the interval covers the seed-to-seed spread: undetermined.
    func testOneSeedAgainstThree() throws {
        func seed(_ s: Int, robust: Double) -> MetricsDocument {
            var run = ConstructedRun(); run.seed = s
            run.set(0.9, .standardClean); run.set(0.5, .standardAdversarial); run.set(robust, .robustAdversarial)
            return run.document
        }
        let seeds = [seed(1, robust: 0.8), seed(2, robust: 0.2), seed(3, robust: 0.8)]
        XCTAssertEqual(ClaimCatalog.evaluate(dataset: [seeds[0]], settings: settings).finding("C13")?.verdict, .reproduced)
        XCTAssertEqual(ClaimCatalog.evaluate(dataset: [seeds[1]], settings: settings).finding("C13")?.verdict, .contradicted)
        let all = try XCTUnwrap(ClaimCatalog.evaluate(dataset: seeds, settings: settings).finding("C13"))
        XCTAssertEqual(all.verdict, .undetermined, all.lines.joined(separator: "\n"))
        let e = all.estimates[0]
        XCTAssertEqual(e.perSeed.count, 3)
        XCTAssertEqual(e.perSeed[1], -0.3, accuracy: 1e-12)
        XCTAssertEqual(e.value, 0.1, accuracy: 1e-12, "the mean of 0.3, −0.3, 0.3")
        XCTAssertEqual(e.seedDeviation, (0.12).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(all.seedLabels, ["1", "2", "3"])
        XCTAssertTrue(all.seeds[0].contains("seeds 1, 2, 3"), "\(all.seeds)")
        // Each seed alone: seeds 1 and 3 reproduce it, seed 2 contradicts it: opposite verdicts.
        let alone = SeedVerdicts.collect(seeds.map { ClaimCatalog.evaluate(dataset: [$0], settings: settings) })
        let gainAlone = try XCTUnwrap(alone.first { $0.id == "C13" })
        XCTAssertEqual(gainAlone.verdicts, [.reproduced, .contradicted, .reproduced])
        XCTAssertTrue(gainAlone.opposite)
        XCTAssertTrue(SeedVerdicts.lines(alone)[1].contains("C13"))
        // Three agreeing seeds stay reproduced.
        let agreeing = [seed(1, robust: 0.8), seed(2, robust: 0.75), seed(3, robust: 0.85)]
        XCTAssertEqual(ClaimCatalog.evaluate(dataset: agreeing, settings: settings).finding("C13")?.verdict, .reproduced)
        // With one seed the finding says the interval covers test images only.
        XCTAssertTrue(ClaimCatalog.evaluate(dataset: [seeds[0]], settings: settings).finding("C13")!.seeds
            .contains { $0.contains("one seed") })
    }

    /// Study shares: C2 (robust attributes nearer the true class) and C1, C11 on study images;
    /// the same seed gives the same interval.
    func testStudySharesAndDeterminism() throws {
        var run = ConstructedRun()
        run.kind = .coarse
        for e in run.eps {
            run.attackImages[e] = ConstructedRun.study(count: 200, share: 0.85, d1BelowD2: 0.8)
            run.recoveryImages[e] = ConstructedRun.study(count: 150, share: 0.3)
        }
        let findings = claims(run)
        XCTAssertEqual(findings.finding("C1")?.verdict, .reproduced)
        XCTAssertEqual(findings.finding("C11")?.verdict, .reproduced)
        XCTAssertEqual(findings.finding("C2")?.verdict, .contradicted)
        XCTAssertEqual(findings.finding("C2")?.estimates.first?.value ?? .nan, 0.3, accuracy: 1e-12)
        XCTAssertNil(findings.finding("C9"), "a fine-only claim is not checked on a coarse dataset")
        let encoder = JSONEncoder()
        XCTAssertEqual(try encoder.encode(findings.map(\.estimates.description)), try encoder.encode(claims(run).map(\.estimates.description)),
                       "seeded: the same intervals every time")
        // No study images at all: undefined, undetermined.
        var empty = ConstructedRun()
        empty.kind = .coarse
        XCTAssertEqual(claims(empty).finding("C11")?.verdict, .undetermined)
    }

    /// Fine vs coarse: C7 reads drops relative to clean accuracy; C3's readings disagree.
    func testAcrossDatasets() throws {
        var fine = ConstructedRun(), coarse = ConstructedRun()
        coarse.name = "synth-coarse"; coarse.kind = .coarse; coarse.seed = 2
        fine.set(0.6, .standardClean); fine.set(0.3, .standardAdversarial); fine.set(0.5, .robustAdversarial)
        coarse.set(0.9, .standardClean); coarse.set(0.6, .standardAdversarial); coarse.set(0.85, .robustAdversarial)
        let findings = ClaimCatalog.evaluate(fine: [fine.document], coarse: [coarse.document], settings: settings)
        // Both lose 30 points, but fine loses half its accuracy and coarse a third.
        let drop = try XCTUnwrap(findings.finding("C7"))
        XCTAssertEqual(drop.estimates[0].value, 0.5 - 1.0 / 3.0, accuracy: 1e-9)
        XCTAssertEqual(drop.verdict, .reproduced, drop.lines.joined(separator: "\n"))
        // R: fine (0.6 − 0.5) / 0.3 = 1/3, coarse 0.05 / 0.3 = 1/6: R higher on fine.
        XCTAssertEqual(findings.finding("C3 (R)")?.verdict, .reproduced)
        XCTAssertEqual(findings.finding("C3 (1−R)")?.verdict, .contradicted)
        XCTAssertEqual(Set(findings.map { $0.id.split(separator: " ")[0] }), ["C3", "C7", "C8", "C12", "C14", "C15"])
    }

    /// Grounding claims: better than the best chance baseline (C17), and undetermined when
    /// ground did not run or the file has no baseline.
    func testGroundingAgainstTheBestBaseline() throws {
        func record(pointing: Int, baselines: [[Int]]) -> GroundingRecord {
            // 100 images, 4 scored items each; `pointing` of the 4 hit; baseline q hits baselines[q][image % 2].
            let images = (0..<100).map { i in
                GroundingImage(image: i, scored: 4, hits: pointing, grounded: pointing / 2,
                               baselineHits: baselines.map { $0[i % 2] }, baselinePlayed: baselines.map { _ in 4 }, generalCorrect: i % 3 == 0)
            }
            return GroundingRecord(role: .standard, path: "g.h5", hasPartTruth: true,
                                   baselines: (0..<baselines.count).map { "b\($0)" }, clean: images, adversarial: images)
        }
        var run = ConstructedRun(); run.n = 100
        // Pointing 3/4 against a best baseline of 2/4 (the second): reproduced.
        for e in run.eps { run.grounding[e] = [record(pointing: 3, baselines: [[1, 1], [2, 2]])] }
        XCTAssertEqual(claims(run).finding("C17")?.verdict, .reproduced)
        // Pointing 2/4 against a baseline of 3/4 (or 1/4 on half the images: 2/4 on average): tied or worse.
        for e in run.eps { run.grounding[e] = [record(pointing: 2, baselines: [[0, 0], [3, 3]])] }
        XCTAssertEqual(claims(run).finding("C17")?.verdict, .contradicted)
        for e in run.eps { run.grounding[e] = [record(pointing: 2, baselines: [[1, 3]])] }
        XCTAssertEqual(claims(run).finding("C17")?.verdict, .undetermined)
        for e in run.eps { run.grounding[e] = [record(pointing: 3, baselines: [])] }
        XCTAssertTrue(claims(run).finding("C17")?.note?.contains("no chance baseline") ?? false)
        run.grounding = [:]
        let none = try XCTUnwrap(claims(run).finding("C17"))
        XCTAssertEqual(none.verdict, .undetermined)
        XCTAssertTrue(none.note?.contains("ground not run") ?? false, none.note ?? "")
    }

    /// NaN survives the JSON round trip; the document reads back equal.
    func testDocumentRoundTrip() throws {
        var run = ConstructedRun()
        run.set(0.9, .standardClean); run.set(0.9, .standardAdversarial); run.set(0.9, .robustAdversarial)
        var document = run.document
        document.findings = ClaimCatalog.evaluate(dataset: [document], settings: settings)
        let path = NSTemporaryDirectory() + "verdicts-roundtrip-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try document.write(to: path)
        let back = try MetricsDocument.read(path)
        XCTAssertEqual(back.findings.map(\.id), document.findings.map(\.id))
        XCTAssertTrue(back.perEps[0].robustRatio.general.robustRatio.isNaN)
        XCTAssertEqual(back.perEps[0].outcomes, document.perEps[0].outcomes)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.contains("\"per_eps\"") && text.contains("\"standard_clean\""))
        try "{\"schema\": 1}".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MetricsDocument.read(path)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
    }

    /// docs/claims.md and the catalog agree: every id of the table is a claim, and every
    /// claim's quote is in the table verbatim.
    func testClaimsTableMatchesTheCatalog() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let table = try String(contentsOf: root.appendingPathComponent("docs/claims.md"), encoding: .utf8)
        let ids = Set(table.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| C") else { return nil }
            return String(line.dropFirst(2).prefix { $0 != " " })
        })
        XCTAssertEqual(ids.count, 19)
        XCTAssertEqual(ids, Set(ClaimCatalog.all.map { String($0.id.split(separator: " ")[0]) }))
        for claim in ClaimCatalog.all { XCTAssertTrue(table.contains(claim.quote), "\(claim.id): quote not in docs/claims.md") }
    }
}
