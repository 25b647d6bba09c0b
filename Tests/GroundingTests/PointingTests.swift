import Grounding
import ImageIO
import Randomness
import TestSupport
import XCTest

/// Upsampling, peaks, the pointing game, energy share and baselines on hand-built maps and masks.
final class PointingTests: XCTestCase {
    /// PyTorch: F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=4, mode="bilinear", align_corners=False).
    func testBilinearUpsamplingMatchesPyTorch() {
        let map = Map2D(rows: 2, columns: 2, values: [0, 1, 2, 3]).upsampled(rows: 4, columns: 4)
        XCTAssertEqual(map.values, [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3])
        let constant = Map2D(rows: 3, columns: 3, values: [Float](repeating: 2, count: 9)).upsampled(rows: 7, columns: 5)
        XCTAssertTrue(constant.values.allSatisfy { $0 == 2 })
    }

    func testPeakIsTheArgmaxPixelCentreRefinedBetweenNeighbours() {
        var values = [Float](repeating: 0, count: 25)
        values[2 * 5 + 3] = 1
        var peak = Map2D(rows: 5, columns: 5, values: values).peak
        XCTAssertEqual(peak.row, 2.5); XCTAssertEqual(peak.column, 3.5)   // symmetric neighbours: the centre
        values[2 * 5 + 4] = 0.5                                            // right neighbour higher: pulled right
        peak = Map2D(rows: 5, columns: 5, values: values).peak
        XCTAssertEqual(peak.row, 2.5)
        XCTAssertGreaterThan(peak.column, 3.5); XCTAssertLessThanOrEqual(peak.column, 4)
    }

    /// A 10 × 10 mask with part 2 (label 3) on rows 2…4, columns 6…8.
    let mask: PartTruth = {
        var labels = [UInt8](repeating: 0, count: 100)
        for r in 2...4 { for c in 6...8 { labels[r * 10 + c] = 3 } }
        labels[9 * 10 + 0] = 1   // part 0 in a corner
        return .mask(rows: 10, columns: 10, labels: labels)
    }()

    func testMaskHitsAreInsideThePartDilatedByOnePixel() {
        let game = PointingGame(tolerance: 1)
        XCTAssertEqual(game.hit(row: 3.5, column: 7.5, parts: [2], truth: mask), true)     // inside
        XCTAssertEqual(game.hit(row: 5.5, column: 7.5, parts: [2], truth: mask), true)     // one pixel below
        XCTAssertEqual(game.hit(row: 1.2, column: 5.9, parts: [2], truth: mask), true)     // diagonal neighbour
        XCTAssertEqual(game.hit(row: 6.5, column: 7.5, parts: [2], truth: mask), false)    // two pixels below
        XCTAssertEqual(game.hit(row: 3.5, column: 7.5, parts: [0, 2], truth: mask), true)  // any of the parts
        XCTAssertEqual(game.hit(row: 3.5, column: 7.5, parts: [0], truth: mask), false)
        XCTAssertNil(game.hit(row: 3.5, column: 7.5, parts: [5], truth: mask), "a part not shown is not scored")
        XCTAssertNil(game.hit(row: 3.5, column: 7.5, parts: [], truth: mask), "an attribute without parts is not scored")
        XCTAssertNil(game.hit(row: 3.5, column: 7.5, parts: [2], truth: .none))
    }

    func testKeypointHitsAreWithinTheToleranceOfAVisiblePoint() {
        let points: PartTruth = .keypoints([Keypoint(x: 20, y: 10, visible: true), Keypoint(x: 50, y: 50, visible: false),
                                            Keypoint(x: 80, y: 40, visible: true)])
        let game = PointingGame(tolerance: PointingGame.tolerance(imageSize: 112))   // 7.5 px at 112 px
        XCTAssertEqual(game.tolerance, 7.5)
        XCTAssertEqual(game.hit(row: 10, column: 27, parts: [0], truth: points), true)      // 7 px right of it
        XCTAssertEqual(game.hit(row: 16, column: 26, parts: [0], truth: points), false)     // √72 ≈ 8.5 px
        XCTAssertEqual(game.hit(row: 41, column: 79, parts: [0, 2], truth: points), true)   // near the second part
        XCTAssertNil(game.hit(row: 50, column: 50, parts: [1], truth: points), "only hidden keypoints: not scored")
    }

    func testEnergyShareIsThePositiveMassInsideTheMask() {
        var values = [Float](repeating: 0, count: 100)
        for r in 2...4 { for c in 6...8 { values[r * 10 + c] = 1 } }   // 9 inside
        values[0] = 3                                                   // 3 outside
        values[55] = -10                                                // negative mass is ignored
        let map = Map2D(rows: 10, columns: 10, values: values)
        XCTAssertEqual(PointingGame.energyShare(map, parts: [2], truth: mask), 0.75, accuracy: 1e-6)
        XCTAssertEqual(PointingGame.energyShare(map, parts: [0], truth: mask), 0)
        XCTAssertTrue(PointingGame.energyShare(map, parts: [2], truth: .none).isNaN)
        XCTAssertTrue(PointingGame.energyShare(Map2D(rows: 10, columns: 10, values: [Float](repeating: -1, count: 100)),
                                               parts: [2], truth: mask).isNaN, "no positive mass")
        // Spread evenly over the bird (9 pixels of part 2, 1 of part 0), part 2 holds 9 of 10.
        XCTAssertEqual(PointingGame.uniformEnergyShare(parts: [2], truth: mask), 0.9, accuracy: 1e-6)
        XCTAssertEqual(PointingGame.uniformEnergyShare(parts: [0, 2], truth: mask), 1, accuracy: 1e-6)
        XCTAssertTrue(PointingGame.uniformEnergyShare(parts: [5], truth: mask).isNaN, "part not shown")
        XCTAssertTrue(PointingGame.uniformEnergyShare(parts: [2], truth: .none).isNaN)
    }

    func testBaselinesAndTheScorer() {
        var rng = SplitMix(seed: 1)
        XCTAssertTrue(PointingBaseline.centre.point(rows: 10, columns: 10, box: nil, rng: &rng)! == (5, 5))
        XCTAssertTrue(PointingBaseline.boxCentre.point(rows: 10, columns: 10, box: [6, 2, 3, 3], rng: &rng)! == (3.5, 7.5))
        XCTAssertNil(PointingBaseline.boxCentre.point(rows: 10, columns: 10, box: nil, rng: &rng))
        var a = SplitMix(seed: 4), b = SplitMix(seed: 4)
        let p = PointingBaseline.random.point(rows: 10, columns: 20, box: nil, rng: &a)!
        XCTAssertTrue(p == PointingBaseline.random.point(rows: 10, columns: 20, box: nil, rng: &b)!, "seeded")
        XCTAssertTrue((0..<10).contains(p.row) && (0..<20).contains(p.column))

        // A 5 × 5 feature map peaking at cell (1, 3), on a 10 × 10 image: the peak lands on
        // image pixels rows 2–3, columns 6–7, on part 2. The image centre (5, 5) is a
        // diagonal neighbour of the part (a hit after dilation); the box centre (7.5, 1.5) is not.
        let scorer = GroundingScorer(game: PointingGame(tolerance: 1), imageSize: 10,
                                     attributeParts: AttributeParts(parts: [[2], [0], []]))
        var r = SplitMix(seed: 2)
        var cells = [Float](repeating: 0, count: 25)
        cells[1 * 5 + 3] = 5
        let map = Map2D(rows: 5, columns: 5, values: cells)
        let item = scorer.score(map: map, attribute: 0, truth: mask, present: false, box: [0, 6, 3, 3], rng: &r)
        XCTAssertTrue((2...4).contains(Int(item.peak.row)) && (6...8).contains(Int(item.peak.column)), "\(item.peak)")
        XCTAssertTrue(item.scored); XCTAssertTrue(item.hit)
        XCTAssertFalse(item.grounded, "a hit on an attribute the image does not have is not grounded")
        XCTAssertEqual(item.baselineHits[1], true)
        XCTAssertEqual(item.baselineHits[2], false)
        XCTAssertEqual(item.baselineHits[4], false, "the control scores the same peak against part 0, in the far corner")
        XCTAssertEqual(scorer.score(map: map, attribute: 0, truth: mask, present: true, box: nil, rng: &r).grounded, true)
        let unscored = scorer.score(map: map, attribute: 2, truth: mask, present: true,
                                    box: nil, rng: &r)
        XCTAssertFalse(unscored.scored); XCTAssertFalse(unscored.grounded)
        var tally = PointingTally()
        tally.add(item); tally.add(unscored)
        XCTAssertEqual(tally.items, 2); XCTAssertEqual(tally.scored, 1)
        XCTAssertEqual(tally.pointingAccuracy, 1); XCTAssertEqual(tally.groundedFraction, 0)
        XCTAssertEqual(tally.baselineAccuracy(.centre), 1); XCTAssertEqual(tally.baselineAccuracy(.boxCentre), 0)
    }

    /// The random pixel on the bird lands on the mask (or in the box without one); the
    /// wrong-part control picks a shown part the attribute does not have; both draw the same
    /// number of values whatever the image holds.
    func testBirdPixelAndWrongPartControl() {
        guard case .mask(_, _, let labels) = mask else { return XCTFail("mask") }
        var rng = SplitMix(seed: 9)
        for _ in 0..<50 {
            let p = PointingBaseline.birdPixel.point(rows: 10, columns: 10, box: nil, truth: mask, rng: &rng)!
            XCTAssertGreaterThan(labels[Int(p.row) * 10 + Int(p.column)], 0, "\(p) is not on the bird")
        }
        let inBox = PointingBaseline.birdPixel.point(rows: 10, columns: 10, box: [2, 4, 3, 2], truth: .none, rng: &rng)!
        XCTAssertTrue((4...6).contains(inBox.row) && (2...5).contains(inBox.column), "\(inBox)")
        XCTAssertNil(PointingBaseline.birdPixel.point(rows: 10, columns: 10, box: nil, truth: .none, rng: &rng))

        XCTAssertEqual(PointingBaseline.wrongPart(besides: [2], truth: mask, rng: &rng), 0)
        XCTAssertNil(PointingBaseline.wrongPart(besides: [0, 2], truth: mask, rng: &rng), "no other part shown")
        let points: PartTruth = .keypoints([Keypoint(x: 1, y: 1, visible: true), Keypoint(x: 0, y: 0, visible: false),
                                            Keypoint(x: 5, y: 5, visible: true)])
        XCTAssertEqual(PointingBaseline.wrongPart(besides: [0], truth: points, rng: &rng), 2, "the visible part that is not the attribute's")
        XCTAssertNil(PointingBaseline.wrongPart(besides: [0, 2], truth: points, rng: &rng))

        var a = SplitMix(seed: 3), b = SplitMix(seed: 3)
        _ = PointingBaseline.birdPixel.point(rows: 10, columns: 10, box: nil, truth: mask, rng: &a)
        _ = PointingBaseline.birdPixel.point(rows: 10, columns: 10, box: nil, truth: .none, rng: &b)
        _ = PointingBaseline.wrongPart(besides: [2], truth: mask, rng: &a)
        _ = PointingBaseline.wrongPart(besides: [], truth: .none, rng: &b)
        XCTAssertEqual(a.next(), b.next(), "draws do not depend on the image")
    }

    func testSelectionFollowsEquationsSevenAndEight() {
        let a: [Float] = [0.9, 0.1, 0.5, 0.3], phiWrong: [Float] = [0.5, 0.0, 0.0, 0.6], phiTrue: [Float] = [0.1, 0.9, 0.2, 0.2]
        XCTAssertEqual(AttributeSelection.clean(a[...], phiWrong: phiWrong[...], k: 2).attributes, [2, 0])      // 0.5, 0.4
        XCTAssertEqual(AttributeSelection.adversarial(a[...], phiTrue: phiTrue[...], k: 2).attributes, [0, 2])  // 0.8, 0.3
        XCTAssertEqual(AttributeSelection.reference(classRow: phiTrue[...], k: 2).attributes, [1, 2])
        let scores: [Float] = [0.2, 0.9, 0.5]
        XCTAssertEqual(AttributeSelection.wrongClass(label: 0, adversarialScores: scores[...]), 1, "the adversarial class")
        XCTAssertEqual(AttributeSelection.wrongClass(label: 1, adversarialScores: scores[...]), 2, "still correct: the runner-up")
    }
}
