import AttributeSpace
import Foundation
import XCTest

/// The paper's findings on hand-made metrics.json objects whose verdicts are known.
final class FindingsTests: XCTestCase {
    /// A metrics.json object with one entry per (eps, f clean, f adv, F clean, F adv, f robust adv,
    /// d1<d2 fraction study a, images a, fraction study b, images b).
    func metrics(_ dataset: String, _ rows: [(String, Double, Double, Double, Double, Double, Double, Int, Double, Int)]) -> [String: Any] {
        let perEps: [[String: Any]] = rows.map { r in
            let ratio = (r.1 - r.5) / (r.1 - r.2)
            return ["eps": r.0,
                    "accuracy": ["general": ["standard_clean": r.1, "standard_adversarial": r.2, "robust_adversarial": r.5],
                                 "attribute": ["standard_clean": r.3, "standard_adversarial": r.4]],
                    "robust_ratio": ["general": ["robust_ratio": ratio], "attribute": ["robust_ratio": NSNull()]],
                    "distances": ["standard_attack": ["images": r.7, "fraction_d1_below_d2": r.6, "mean_d1": 1.0, "mean_d2": 2.0],
                                  "robust_recovery": ["images": r.9, "fraction_d1_below_d2": r.8, "mean_d1": 1.5, "mean_d2": 2.0]]]
        }
        return ["dataset": dataset, "per_eps": perEps]
    }

    func byID(_ findings: [Finding]) -> [String: Finding] { Dictionary(uniqueKeysWithValues: findings.map { ($0.id, $0) }) }

    func testPaperLikeMetricsReproduceEveryFinding() throws {
        // R: (0.9 − 0.8)/(0.9 − 0.5) = 0.25, (0.9 − 0.3)/(0.9 − 0.1) = 0.75, (0.9 − 0.1)/(0.9 − 0) ≈ 0.89.
        // Listed out of order: the findings sort by eps.
        let object = metrics("coarse", [("0.06", 0.9, 0.1, 0.8, 0.3, 0.3, 0.7, 50, 0.6, 20),
                                        ("0.01", 0.9, 0.5, 0.8, 0.6, 0.8, 0.8, 30, 0.9, 10),
                                        ("0.12", 0.9, 0.0, 0.8, 0.1, 0.1, 0.55, 60, 0.51, 5)])
        let findings = byID(Findings.evaluate(try FindingMetrics(json: object)))
        XCTAssertEqual(Set(findings.keys), ["2", "3", "4a", "4b", "4c", "5", "6"])
        for id in ["2", "3", "4a", "4b", "4c", "5"] { XCTAssertEqual(findings[id]?.reproduced, true, "\(id): \(findings[id]!.evidence)") }
        XCTAssertNil(findings["6"]!.reproduced)
        XCTAssertEqual(findings["6"]!.evidence, "ground not run")
        XCTAssertTrue(findings["4b"]!.evidence.contains("eps 0.01: R(f) 0.25"), findings["4b"]!.evidence)
        XCTAssertTrue(findings["2"]!.evidence.hasPrefix("eps 0.01: f 90.0% → 50.0%, F 80.0% → 60.0%"), findings["2"]!.evidence)
    }

    func testEachFindingFailsWhenItsNumbersSaySo() throws {
        // F rises under attack at 0.06 (2 fails); study a 40% at 0.01 (3 fails); R 0.6 at 0.01
        // (4b fails), falls to 0.5 at 0.06 (4c fails), reaches 1.125 at 0.12 (4a fails);
        // study b 50% is not "most" (5 fails).
        let object = metrics("fine", [("0.01", 0.9, 0.4, 0.8, 0.5, 0.6, 0.4, 30, 0.5, 10),
                                      ("0.06", 0.9, 0.1, 0.8, 0.7, 0.5, 0.7, 50, 0.9, 20),
                                      ("0.12", 0.9, 0.1, 0.8, 0.1, 0.0, 0.8, 60, 0.9, 5)])
        let findings = byID(Findings.evaluate(try FindingMetrics(json: object)))
        for id in ["2", "3", "4a", "4b", "4c", "5"] { XCTAssertEqual(findings[id]?.reproduced, false, "\(id): \(findings[id]!.evidence)") }
    }

    func testUndecidableFindingsAreNull() throws {
        // The attack cost nothing (R undefined) and no image entered either study.
        let object = metrics("flat", [("0.01", 0.9, 0.9, 0.8, 0.8, 0.9, .nan, 0, .nan, 0)])
        let findings = byID(Findings.evaluate(try FindingMetrics(json: object)))
        for id in ["3", "4a", "4b", "4c", "5", "6"] { XCTAssertNil(findings[id]?.reproduced, id) }
        XCTAssertEqual(findings["2"]?.reproduced, false, "no drop under attack")
        XCTAssertEqual(findings["4c"]?.evidence, "needs two eps or more")
        XCTAssertThrowsError(try FindingMetrics(json: ["dataset": "x"]))
    }

    func testGroundingComparesCleanWithAdversarialPointing() throws {
        var m = try FindingMetrics(json: metrics("g", [("0.01", 0.9, 0.5, 0.8, 0.6, 0.8, 0.8, 30, 0.9, 10)]))
        m.grounding = [.init(model: "standard", eps: "0.01", pointingClean: 0.7, pointingAdversarial: 0.4, groundedClean: 0.6,
                             groundedAdversarial: 0.3),
                       .init(model: "robust-eps0.01", eps: "0.01", pointingClean: 0.6, pointingAdversarial: 0.65, groundedClean: 0.5,
                             groundedAdversarial: 0.5)]
        var g = byID(Findings.evaluate(m))["6"]!
        XCTAssertEqual(g.reproduced, true, g.evidence)
        XCTAssertTrue(g.evidence.contains("standard eps 0.01: pointing 70.0% clean vs 40.0% adversarial"), g.evidence)
        m.grounding![0].pointingAdversarial = 0.8
        XCTAssertEqual(byID(Findings.evaluate(m))["6"]!.reproduced, false)
        m.grounding![0].pointingClean = .nan
        g = byID(Findings.evaluate(m))["6"]!
        XCTAssertNil(g.reproduced, "no part truth: undecided")
    }

    func testCrossDatasetComparisonAtTheSmallestSharedEps() throws {
        // Fine: 80% → 30% (62.5% drop), d1<d2 for 55%; coarse: 95% → 76% (20% drop), 90%.
        let fine = try FindingMetrics(json: metrics("fine", [("0.06", 0.8, 0.0, 0.7, 0.2, 0.1, 0.6, 9, 0.5, 3),
                                                             ("0.01", 0.8, 0.3, 0.7, 0.5, 0.6, 0.55, 40, 0.5, 3)]))
        let coarse = try FindingMetrics(json: metrics("coarse", [("0.01", 0.95, 0.76, 0.9, 0.8, 0.9, 0.9, 20, 0.9, 3)]))
        let findings = byID(Findings.compare(fine: fine, coarse: coarse))
        XCTAssertEqual(findings["1a"]?.reproduced, true, findings["1a"]!.evidence)
        XCTAssertEqual(findings["1b"]?.reproduced, true, findings["1b"]!.evidence)
        XCTAssertTrue(findings["1a"]!.evidence.contains("relative drop of f 62.5% on fine"), findings["1a"]!.evidence)
        XCTAssertTrue(findings["1a"]!.evidence.contains("20.0% on coarse"), findings["1a"]!.evidence)
        // Swapped, both fail.
        let swapped = byID(Findings.compare(fine: coarse, coarse: fine))
        XCTAssertEqual(swapped["1a"]?.reproduced, false)
        XCTAssertEqual(swapped["1b"]?.reproduced, false)
        // No shared eps: undecided.
        let other = try FindingMetrics(json: metrics("other", [("0.5", 0.9, 0.1, 0.8, 0.3, 0.3, 0.7, 50, 0.6, 20)]))
        XCTAssertNil(byID(Findings.compare(fine: fine, coarse: other))["1a"]?.reproduced)
    }

    func testRecordsRoundTrip() {
        let finding = Finding(id: "4b", claim: "c", reproduced: nil, evidence: "e")
        XCTAssertTrue(finding.record["reproduced"] is NSNull)
        XCTAssertEqual(Finding(record: finding.record), finding)
        XCTAssertEqual(Finding.lines([Finding(id: "3", claim: "c", reproduced: true, evidence: "e")]), ["[reproduced] (3) c: e"])
    }
}
