import Grounding
import Randomness
import Tensors
import XCTest

/// The Net2Vec concept probe: its segmentation loss by hand and its gradient against central
/// finite differences (Net2Vec's α and a fixed weight, soft masks), the concept masks at a map's
/// resolution, and its maps (the logits S + b).
final class ConceptProbeTests: XCTestCase {
    let (a, c, rows, columns) = (4, 3, 3, 4)

    func randomHead(seed: UInt64) -> APNHead {
        HeadFixtures.randomHead(seed: seed, attributes: a, channels: c, objective: .segmentation)
    }

    func randomFeatures(seed: UInt64, images: Int) -> [[Float]] {
        HeadFixtures.randomFeatures(seed: seed, images: images, channels: c, positions: rows * columns)
    }

    /// Masks with hard 0/1 cells, soft shares and empty attributes.
    func masks(images: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix(seed: seed)
        return (0..<(images * a * rows * columns)).map { _ in
            let u = rng.uniformFloat(0, 1)
            return u < 0.6 ? 0 : u < 0.8 ? 1 : rng.uniformFloat(0, 1)
        }
    }

    func checkGradient(_ loss: ConceptProbeLoss, file: StaticString = #filePath, line: UInt = #line) {
        let head = randomHead(seed: 31)
        let features = randomFeatures(seed: 32, images: 3)
        let targets = masks(images: 3, seed: 33)
        let analytic = loss.evaluate(head, features: features, rows: rows, columns: columns, targets: targets)
        XCTAssertEqual(analytic.total, analytic.attribute)
        // The loss is smooth: no peak to move, so every entry is compared.
        HeadFixtures.assertGradientMatchesFiniteDifferences(analytic, at: head, absolute: 2e-4, file: file, line: line) {
            loss.evaluate($0, features: features, rows: rows, columns: columns, targets: targets).total
        }
        XCTAssertTrue(analytic.prototypes.contains { abs($0) > 1e-3 }, "a gradient that is not trivially zero")
    }

    func testGradientWithNet2VecBalanceMatchesFiniteDifferences() {
        checkGradient(ConceptProbeLoss(balance: .net2vec, maskShare: [0.05, 0.2, 0.5, 0.01]))
    }

    func testGradientWithFixedPositiveWeightMatchesFiniteDifferences() {
        checkGradient(ConceptProbeLoss(balance: .positive(10), maskShare: [0.05, 0.2, 0.5, 0.01]))
    }

    func testLossIsTheWeightedCrossEntropyByHand() {
        // One image, two attributes, one channel, a 1 × 2 map.
        let head = APNHead(stage: 0, channels: 1, attributeCount: 2, prototypes: [2, -1], bias: [0.5, 0], mean: [0], inverseStd: [1],
                           objective: .segmentation)
        let loss = ConceptProbeLoss(positiveWeights: [0.9, 3], negativeWeights: [0.1, 1])
        let v = loss.evaluate(head, features: [[0.1, 0.4]], rows: 1, columns: 2, targets: [1, 0, 0.5, 0])
        // Attribute 0: z = (0.7, 1.3), masks (1, 0); attribute 1: z = (−0.1, −0.4), masks (0.5, 0).
        func softplus(_ x: Double) -> Double { log(1 + exp(x)) }
        let expected = (0.9 * softplus(-0.7) + 0.1 * softplus(1.3)
                        + 3 * 0.5 * softplus(0.1) + 1 * 0.5 * softplus(-0.1) + 1 * softplus(-0.4)) / 4
        XCTAssertEqual(v.attribute, expected, accuracy: 1e-6)
    }

    func testNet2VecAlphaWeighsMaskPixelsByTheirRarity() {
        let loss = ConceptProbeLoss(balance: .net2vec, maskShare: [0.1, 0])
        XCTAssertEqual(loss.positiveWeights, [0.9, 1])
        XCTAssertEqual(loss.negativeWeights[0], 0.1, accuracy: 1e-7)
        XCTAssertEqual(loss.negativeWeights[1], 0, "a concept that is nowhere does not train")
        let fixed = ConceptProbeLoss(balance: .positive(20), maskShare: [0.1, 0])
        XCTAssertEqual(fixed.positiveWeights, [20, 20])
        XCTAssertEqual(fixed.negativeWeights, [1, 1])
    }

    func testCoverageIsEachPartsShareOfTheCell() {
        // A 4 × 4 label image on a 2 × 2 map: cells of 2 × 2 pixels.
        let labels: [UInt8] = [1, 1, 0, 2,
                               1, 0, 2, 2,
                               0, 0, 0, 0,
                               3, 0, 0, 9]
        let cover = ConceptTargets.coverage(labels: labels, side: 4, partCount: 3, rows: 2, columns: 2)
        XCTAssertEqual(Array(cover[0..<4]), [0.75, 0, 0, 0], "part 0 (label 1)")
        XCTAssertEqual(Array(cover[4..<8]), [0, 0.75, 0, 0], "part 1 (label 2)")
        XCTAssertEqual(Array(cover[8..<12]), [0, 0, 0.25, 0], "part 2 (label 3); label 9 is no part")
    }

    func testMasksAreTheUnionOfTheAttributesPartsWhereTheImageHasIt() {
        let cover: [Float] = [0.75, 0, 0, 0,   0, 0.75, 0, 0,   0, 0, 0.25, 1]
        let targets = ConceptTargets(coverage: [cover, cover], present: [[1, 1, 0], [0, 1, 1]], parts: [[0, 1], [2], [1]],
                                     partCount: 3, rows: 2, columns: 2)
        XCTAssertEqual(targets.masks([0]), [0.75, 0.75, 0, 0,   0, 0, 0.25, 1,   0, 0, 0, 0])
        XCTAssertEqual(targets.masks([1, 0]), [0, 0, 0, 0,   0, 0, 0.25, 1,   0, 0.75, 0, 0,
                                               0.75, 0.75, 0, 0,   0, 0, 0.25, 1,   0, 0, 0, 0])
        let share = targets.maskShare()
        XCTAssertEqual(share[0], 1.5 / 8, accuracy: 1e-9)
        XCTAssertEqual(share[1], 2.5 / 8, accuracy: 1e-9)
        XCTAssertEqual(share[2], 0.75 / 8, accuracy: 1e-9)
    }

    func testProbeMapsAreItsLogits() {
        let probe = randomHead(seed: 41)
        var prototypeHead = probe
        prototypeHead.objective = .prototype
        let f = randomFeatures(seed: 42, images: 2)
        let stageMap = Tensor(shape: [2, c, rows, columns], data: f.flatMap { $0 })
        let chosen = [[3, 0], [1, 2]]
        let logits = probe.maps(stageMap: stageMap, attributes: chosen)
        let similarity = prototypeHead.maps(stageMap: stageMap, attributes: chosen)
        let positions = rows * columns
        for i in 0..<2 {
            for (j, k) in chosen[i].enumerated() {
                for p in 0..<positions {
                    let q = (i * 2 + j) * positions + p
                    XCTAssertEqual(logits[q], similarity[q] + probe.bias[k], accuracy: 1e-6)
                }
            }
        }
    }

    func testTrainingFindsTheChannelThatMarksTheConcept() {
        // The concept is where channel 1 is high; channel 0 is noise.
        var rng = SplitMix(seed: 51)
        var features: [[Float]] = [], targets: [Float] = []
        for _ in 0..<30 {
            var f = (0..<(2 * 9)).map { _ in rng.uniformFloat(-0.3, 0.3) }
            var m = [Float](repeating: 0, count: 9)
            let p = Int(rng.uniformFloat(0, 8.99))
            f[9 + p] = 2
            m[p] = 1
            features.append(f)
            targets += m
        }
        let loss = ConceptProbeLoss(balance: .net2vec, maskShare: [1.0 / 9])
        var head = APNHead(stage: 0, channels: 2, attributeCount: 1, prototypes: [0.01, 0.01], bias: [0], mean: [0, 0], inverseStd: [1, 1],
                           objective: .segmentation)
        let before = loss.evaluate(head, features: features, rows: 3, columns: 3, targets: targets).total
        for _ in 0..<300 {
            let g = loss.evaluate(head, features: features, rows: 3, columns: 3, targets: targets)
            for i in head.prototypes.indices { head.prototypes[i] -= 20 * g.prototypes[i] }
            head.bias[0] -= 20 * g.bias[0]
        }
        let after = loss.evaluate(head, features: features, rows: 3, columns: 3, targets: targets).total
        XCTAssertLessThan(after, before / 3, "gradient descent on the analytic gradient fits the masks")
        XCTAssertGreaterThan(head.prototypes[1], 5 * abs(head.prototypes[0]), "the probe reads channel 1")
    }
}
