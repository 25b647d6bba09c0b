import Grounding
import NeuralNet
import Randomness
import Tensors
import XCTest

/// The attribute-prototype head: its loss gradient against central finite differences (each
/// term alone and all together), its maps and scores, and the hypercolumn resampling.
final class APNTests: XCTestCase {
    let (a, c, rows, columns) = (5, 3, 3, 4)
    let groups = [[0, 1], [2], [3, 4]]

    func randomHead(seed: UInt64) -> APNHead {
        HeadFixtures.randomHead(seed: seed, attributes: a, channels: c)
    }

    func randomFeatures(seed: UInt64, images: Int) -> [[Float]] {
        HeadFixtures.randomFeatures(seed: seed, images: images, channels: c, positions: rows * columns)
    }

    /// Every prototype and bias entry: the analytic gradient of `loss` against (L(θ+h) − L(θ−h))/2h.
    func checkGradient(_ loss: APNLoss, file: StaticString = #filePath, line: UInt = #line) {
        let head = randomHead(seed: 11)
        let features = randomFeatures(seed: 12, images: 3)
        let targets: [Float] = (0..<(3 * a)).map { Float(($0 * 7) % 3 == 0 ? 1 : 0) }
        let analytic = loss.evaluate(head, features: features, rows: rows, columns: columns, targets: targets)
        // h = 10⁻³: small enough that no map's argmax moves (the max is piecewise linear), large enough for float32 sums.
        HeadFixtures.assertGradientMatchesFiniteDifferences(analytic, at: head, absolute: 1e-3, file: file, line: line) {
            loss.evaluate($0, features: features, rows: rows, columns: columns, targets: targets).total
        }
    }

    /// ∂L/∂F̃ (what end-to-end training sends into the classifier): every feature entry of every
    /// image against central differences, each term alone and all together.
    func testFeatureGradientMatchesFiniteDifferences() {
        let head = randomHead(seed: 13)
        let features = randomFeatures(seed: 14, images: 3)
        let targets: [Float] = (0..<(3 * a)).map { Float(($0 * 5) % 3 == 0 ? 1 : 0) }
        for loss in [APNLoss(decorrelation: 0, compactness: 0, groups: groups), APNLoss(decorrelation: 0, compactness: 2, groups: groups),
                     APNLoss(decorrelation: 0.1, compactness: 0.5, groups: groups)] {
            let analytic = loss.evaluate(head, features: features, rows: rows, columns: columns, targets: targets, featureGradients: true)
            XCTAssertEqual(analytic.features.count, 3)
            let plain = loss.evaluate(head, features: features, rows: rows, columns: columns, targets: targets)
            XCTAssertEqual(plain.prototypes, analytic.prototypes, "asking for feature gradients changes nothing else")
            XCTAssertTrue(plain.features.isEmpty)
            let h: Float = 1e-3
            func moved(_ image: Int, _ j: Int, _ step: Float) -> [Float] {
                var f = features[image]
                f[j] += step
                return f
            }
            func total(_ image: Int, _ j: Int, _ step: Float) -> Double {
                var copy = features
                copy[image] = moved(image, j, step)
                return loss.evaluate(head, features: copy, rows: rows, columns: columns, targets: targets).total
            }
            // Where a step moves a map's peak the loss jumps (the max, and compactness's distances
            // to the peak): those entries are skipped, and there are few.
            var skipped = 0
            for image in 0..<3 {
                let peaks = head.logits(standardised: features[image]).peaks
                for j in 0..<(c * rows * columns) {
                    if head.logits(standardised: moved(image, j, h)).peaks != peaks || head.logits(standardised: moved(image, j, -h)).peaks != peaks {
                        skipped += 1
                        continue
                    }
                    let numeric = (total(image, j, h) - total(image, j, -h)) / Double(2 * h)
                    XCTAssertEqual(Double(analytic.features[image][j]), numeric, accuracy: 1e-3 + 1e-3 * abs(numeric),
                                   "compactness \(loss.compactness): image \(image), entry \(j)")
                }
            }
            XCTAssertLessThanOrEqual(skipped, 3 * c * rows * columns / 10, "few entries sit at a peak's tie")
        }
    }

    /// The joint loss's stage-map gradient is weight × ∂L/∂F̃ / σ per channel (central differences
    /// on the raw map through the standardisation), its total weight × L, its head gradients weighted.
    func testJointLossGradientOnTheRawStageMap() throws {
        var head = randomHead(seed: 15)
        head = APNHead(stage: 1, channels: c, attributeCount: a, prototypes: head.prototypes, bias: head.bias, mean: [0.2, -0.1, 0.3],
                       inverseStd: [1.5, 0.5, 2])
        let raw = randomFeatures(seed: 16, images: 2).flatMap { $0 }
        let map = Tensor(shape: [2, c, rows, columns], data: raw)
        let targets: [Float] = (0..<(2 * a)).map { Float($0 % 2) }
        let apn = APNLoss(decorrelation: 0, compactness: 1, groups: groups)
        let joint = APNJointLoss(weight: 0.7, loss: apn)
        let (value, total, gradient) = try joint.evaluate(head, stageMap: map, targets: targets)
        let unweighted = apn.evaluate(head, features: (0..<2).map { head.standardised(raw[($0 * c * rows * columns)..<(($0 + 1) * c * rows * columns)]) },
                                      rows: rows, columns: columns, targets: targets)
        XCTAssertEqual(Double(total), 0.7 * unweighted.total, accuracy: 1e-5)
        for k in 0..<a { XCTAssertEqual(value.bias[k], 0.7 * unweighted.bias[k], accuracy: 1e-6) }
        XCTAssertEqual(gradient.shape, map.shape)
        let h: Float = 1e-3
        for j in 0..<raw.count {
            var plus = map, minus = map
            plus.data[j] += h; minus.data[j] -= h
            let numeric = (try joint.evaluate(head, stageMap: plus, targets: targets).total - joint.evaluate(head, stageMap: minus, targets: targets).total) / (2 * h)
            XCTAssertEqual(gradient.data[j], numeric, accuracy: 2e-3 + 2e-3 * abs(numeric), "raw map entry \(j)")
        }
        XCTAssertThrowsError(try joint.evaluate(head, stageMap: Tensor(shape: [2, c + 1, rows, columns], data: [Float](repeating: 0, count: 2 * (c + 1) * rows * columns)), targets: targets))
        XCTAssertThrowsError(try joint.evaluate(head, stageMap: map, targets: [1]))
    }

    func testAttributeTermGradientMatchesFiniteDifferences() {
        checkGradient(APNLoss(decorrelation: 0, compactness: 0, groups: groups))
    }

    func testDecorrelationGradientMatchesFiniteDifferences() {
        checkGradient(APNLoss(decorrelation: 0.3, compactness: 0, groups: groups))
    }

    func testCompactnessGradientMatchesFiniteDifferences() {
        checkGradient(APNLoss(decorrelation: 0, compactness: 2, groups: groups))
    }

    func testAllTermsGradientMatchesFiniteDifferences() {
        checkGradient(APNLoss(decorrelation: 0.1, compactness: 0.5, groups: groups))
    }

    func testTermsAreTheirDefinitions() {
        // One image, one attribute, one channel, a 1 × 3 map: every term by hand.
        let head = APNHead(stage: 0, channels: 1, attributeCount: 2, prototypes: [2, -1], bias: [0.5, 0], mean: [0], inverseStd: [1])
        let f: [Float] = [0.1, 0.4, 0.2]
        let loss = APNLoss(decorrelation: 1, compactness: 1, groups: [[0, 1]])
        let v = loss.evaluate(head, features: [f], rows: 1, columns: 3, targets: [1, 0])
        // Attribute 0: S = (0.2, 0.8, 0.4), z = 0.8 + 0.5; attribute 1: S = (−0.1, −0.4, −0.2), z = −0.1 (peak at 0).
        let (z0, z1) = (1.3, -0.1)
        let bce = (log(1 + exp(-z0)) + log(1 + exp(z1))) / 2
        XCTAssertEqual(v.attribute, bce, accuracy: 1e-6)
        // Compactness: softmax of each map, squared distance to its peak in map sides (columns / 3).
        func expected(_ s: [Double], peak: Int) -> Double {
            let e = s.map { exp($0) }, sum = e.reduce(0, +)
            return zip(e, 0..<3).map { $0 / sum * pow(Double($1 - peak) / 3, 2) }.reduce(0, +)
        }
        XCTAssertEqual(v.compactness, (expected([0.2, 0.8, 0.4], peak: 1) + expected([-0.1, -0.4, -0.2], peak: 0)) / 2, accuracy: 1e-6)
        XCTAssertEqual(v.decorrelation, (4.0 + 1.0).squareRoot(), accuracy: 1e-6, "one group, one channel: ‖(2, −1)‖")
        XCTAssertEqual(v.total, v.attribute + v.decorrelation + v.compactness, accuracy: 1e-9)
    }

    func testScoreIsTheMapPeakPlusBias() {
        let head = randomHead(seed: 5)
        let f = randomFeatures(seed: 6, images: 2)
        let stageMap = Tensor(shape: [2, c, rows, columns], data: f.flatMap { $0 })
        let maps = head.maps(stageMap: stageMap, attributes: [[4, 0], [2, 3]])
        for (i, chosen) in [[4, 0], [2, 3]].enumerated() {
            let (z, peaks) = head.logits(standardised: head.standardised(f[i][...]))
            for (j, k) in chosen.enumerated() {
                let map = Array(maps[((i * 2 + j) * rows * columns)..<((i * 2 + j + 1) * rows * columns)])
                let top = map.max()!
                XCTAssertEqual(z[k], top + head.bias[k], accuracy: 1e-6)
                XCTAssertEqual(map[peaks[k]], top, "the score's position is the map's peak")
            }
        }
    }

    func testStandardisationUsesTheChannelStatistics() {
        let head = APNHead(stage: 0, channels: 2, attributeCount: 1, prototypes: [1, 1], bias: [0], mean: [1, -2], inverseStd: [0.5, 2])
        XCTAssertEqual(head.standardised([3, 1, 0, -2][...]), [1, 0, 4, 0])
    }

    func testGroupsFollowTheAttributeNames() {
        XCTAssertEqual(APNLoss.groups(attributeNames: ["has_a::x", "has_b::y", "has_a::z", "size"]), [[0, 2], [1], [3]])
    }

    func testTrainingLowersTheLossOnALearnableAttribute() throws {
        // Attribute 0 is present exactly when channel 0 is high somewhere: a prototype can learn that.
        var rng = SplitMix(seed: 21)
        var features: [[Float]] = [], targets: [Float] = []
        for i in 0..<40 {
            var f = (0..<(2 * 9)).map { _ in rng.uniformFloat(-0.2, 0.2) }
            if i % 2 == 0 { f[Int(rng.uniformFloat(0, 8.99))] = 2 }
            features.append(f)
            targets += [i % 2 == 0 ? 1 : 0]
        }
        let loss = APNLoss(decorrelation: 0, compactness: 0, groups: [[0]])
        var head = APNHead(stage: 0, channels: 2, attributeCount: 1, prototypes: [0.01, 0.01], bias: [0], mean: [0, 0], inverseStd: [1, 1])
        let before = loss.evaluate(head, features: features, rows: 3, columns: 3, targets: targets).total
        for _ in 0..<200 {
            let g = loss.evaluate(head, features: features, rows: 3, columns: 3, targets: targets)
            for i in head.prototypes.indices { head.prototypes[i] -= 1 * g.prototypes[i] }
            head.bias[0] -= 1 * g.bias[0]
        }
        let after = loss.evaluate(head, features: features, rows: 3, columns: 3, targets: targets).total
        XCTAssertLessThan(after, before / 3, "gradient descent on the analytic gradient fits the attribute")
        XCTAssertGreaterThan(head.prototypes[0], abs(head.prototypes[1]), "the prototype points at channel 0")
    }

    func testHypercolumnResampling() {
        // A finer map is average-pooled, a coarser one upsampled as Map2D.upsampled does.
        let fine = Tensor(shape: [1, 1, 4, 4], data: (0..<16).map(Float.init))
        XCTAssertEqual(APNFeatures.resampled(fine, rows: 2, columns: 2).data, [2.5, 4.5, 10.5, 12.5])
        let coarse = Tensor(shape: [1, 2, 2, 2], data: [0, 1, 2, 3, 4, 5, 6, 7])
        let up = APNFeatures.resampled(coarse, rows: 4, columns: 4)
        XCTAssertEqual(up.shape, [1, 2, 4, 4])
        XCTAssertEqual(Array(up.data[16..<32]), Map2D(rows: 2, columns: 2, values: [4, 5, 6, 7]).upsampled(rows: 4, columns: 4).values)
    }
}
