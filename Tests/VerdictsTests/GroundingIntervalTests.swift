import Verdicts
import XCTest

/// The grounding comparisons: values from the per-image sums, the paper's images, an interval
/// that covers the value and excludes zero only for a clear lead.
final class GroundingIntervalTests: XCTestCase {
    /// 100 images of 10 items each: the maps hit `mapHits`, the box centre `boxHits`, the
    /// control `controlHits` of them; image i is right clean unless i % 4 == 0, wrong attacked when i is even.
    func record(_ role: GroundingRoleName, mapHits: Int, boxHits: Int, controlHits: Int, adversarialRight: (Int) -> Bool) -> GroundingRecord {
        func image(_ i: Int, correct: Bool) -> GroundingImage {
            GroundingImage(image: i, scored: 10, hits: mapHits, grounded: 0, baselineHits: [boxHits, controlHits],
                           baselinePlayed: [10, 10], generalCorrect: correct, energy: 0.3 * 10, uniformEnergy: 0.1 * 10, energyItems: 10)
        }
        return GroundingRecord(role: role, path: "\(role).h5", hasPartTruth: true, baselines: ["box_centre", "wrong_part"],
                               clean: (0..<100).map { image($0, correct: $0 % 4 != 0) },
                               adversarial: (0..<100).map { image($0, correct: adversarialRight($0)) })
    }

    func testLeadsIntervalsAndPaperImages() {
        let settings = BootstrapSettings(resamples: 300, seed: 3)
        let standard = record(.standard, mapHits: 5, boxHits: 2, controlHits: 5, adversarialRight: { $0 % 2 == 1 })
        let row = GroundingIntervals.row(standard, clean: true, subset: .all, only: nil, imageCount: 100, settings: settings)
        XCTAssertEqual(row.pointing, 0.5, accuracy: 1e-12)
        XCTAssertEqual(row.leadOverBest.value, 0.3, accuracy: 1e-12)
        XCTAssertEqual(row.ratioToBest, 2.5, accuracy: 1e-12)
        XCTAssertTrue(row.leadOverBest.clearsZero, "every image leads by 3 of 10")
        XCTAssertEqual(row.leads[1].value, 0, accuracy: 1e-12)
        XCTAssertFalse(row.leads[1].clearsZero, "a tie with the control is no lead")
        XCTAssertEqual(row.energy, 0.3, accuracy: 1e-9); XCTAssertEqual(row.uniformEnergy, 0.1, accuracy: 1e-9)
        XCTAssertEqual(row.energyLead.value, 0.2, accuracy: 1e-9)

        // Paper images of the standard model: clean right (i % 4 != 0) and attacked wrong (even): i ≡ 2 mod 4.
        let paper = GroundingIntervals.images(.paper, record: standard, standard: standard)
        XCTAssertEqual(paper, Set((0..<100).filter { $0 % 4 == 2 }))
        // The robust model recovers the standard model's wrong adversarials it gets right.
        let robust = record(.transfer, mapHits: 5, boxHits: 2, controlHits: 5, adversarialRight: { $0 < 50 })
        XCTAssertEqual(GroundingIntervals.images(.paper, record: robust, standard: standard), Set((0..<50).filter { $0 % 2 == 0 }))
        XCTAssertNil(GroundingIntervals.images(.all, record: robust, standard: standard))
    }

    /// Mixed images (half lead, half trail) give an interval around zero.
    func testNoClearLead() {
        let images = (0..<60).map { i in
            GroundingImage(image: i, scored: 4, hits: i % 2 == 0 ? 3 : 1, grounded: 0, baselineHits: [2], baselinePlayed: [4],
                           generalCorrect: true)
        }
        let record = GroundingRecord(role: .standard, path: "s.h5", hasPartTruth: true, baselines: ["centre"], clean: images,
                                     adversarial: images)
        let row = GroundingIntervals.row(record, clean: false, subset: .all, only: nil, imageCount: 60,
                                         settings: BootstrapSettings(resamples: 300, seed: 1))
        XCTAssertEqual(row.leadOverBest.value, 0, accuracy: 1e-12)
        XCTAssertLessThan(row.leadOverBest.lower, 0); XCTAssertGreaterThan(row.leadOverBest.upper, 0)
        XCTAssertTrue(row.energy.isNaN, "no energy sums: no energy share")
    }
}
