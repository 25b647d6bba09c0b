import Grounding
import Randomness
import XCTest

/// What the attribute-prototype head's tests and the concept probe's tests share: random heads
/// and stage maps, and the central finite-difference check of a head loss's gradient.
enum HeadFixtures {
    /// A head with prototypes in [−1, 1] and biases in [−½, ½], on unstandardised features.
    static func randomHead(seed: UInt64, attributes a: Int, channels c: Int, objective: APNHead.Objective = .prototype) -> APNHead {
        var rng = SplitMix(seed: seed)
        return APNHead(stage: 1, channels: c, attributeCount: a, prototypes: (0..<(a * c)).map { _ in rng.uniformFloat(-1, 1) },
                       bias: (0..<a).map { _ in rng.uniformFloat(-0.5, 0.5) }, mean: [Float](repeating: 0, count: c),
                       inverseStd: [Float](repeating: 1, count: c), objective: objective)
    }

    /// `images` stage maps of `channels` × `positions` values in [−1, 1].
    static func randomFeatures(seed: UInt64, images: Int, channels: Int, positions: Int) -> [[Float]] {
        var rng = SplitMix(seed: seed)
        return (0..<images).map { _ in (0..<(channels * positions)).map { _ in rng.uniformFloat(-1, 1) } }
    }

    /// Every prototype and bias entry of `analytic` (the gradient of `total` at `head`) against
    /// (L(θ+h) − L(θ−h))/2h with h = 10⁻³, within `absolute` + 10⁻³ relative.
    static func assertGradientMatchesFiniteDifferences(_ analytic: APNLoss.Value, at head: APNHead, absolute: Double,
                                                       file: StaticString = #filePath, line: UInt = #line,
                                                       total: (APNHead) -> Double) {
        let h: Float = 1e-3
        func difference(_ change: (inout APNHead, Float) -> Void) -> Double {
            var up = head, down = head
            change(&up, h)
            change(&down, -h)
            return (total(up) - total(down)) / Double(2 * h)
        }
        for i in 0..<head.prototypes.count {
            let numeric = difference { $0.prototypes[i] += $1 }
            XCTAssertEqual(Double(analytic.prototypes[i]), numeric, accuracy: absolute + 1e-3 * abs(numeric), "prototype entry \(i)",
                           file: file, line: line)
        }
        for k in 0..<head.bias.count {
            let numeric = difference { $0.bias[k] += $1 }
            XCTAssertEqual(Double(analytic.bias[k]), numeric, accuracy: absolute + 1e-3 * abs(numeric), "bias \(k)", file: file, line: line)
        }
    }
}
