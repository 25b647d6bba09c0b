import Foundation
import NeuralNet
import Randomness

extension Attack {
    /// Square Attack alone (L∞, margin loss).
    static func runSquare(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int], settings: AttackSettings,
                          seed: UInt64) throws -> AttackResult {
        let cleanPredictions = try model.predict(x)
        var state = AttackState(clean: x, cleanPredictions: cleanPredictions, labels: labels)
        try square(model, x: x, labels: labels, imageIndices: imageIndices, eps: settings.eps, queries: settings.queries,
                   pInit: settings.pInit, restarts: settings.restarts, component: 3, seed: seed, state: &state)
        return AttackResult(adversarial: state.adversarial, predictions: try model.predict(state.adversarial),
                            cleanPredictions: cleanPredictions, zeroGradientCount: 0, brokenBy: state.brokenBy)
    }

    /// The fraction of pixels changed at query `query` of `queries` (Andriushchenko et al.'s
    /// schedule, rescaled to the query budget as AutoAttack does).
    static func squareFraction(query: Int, queries: Int, pInit: Float) -> Float {
        let it = Int(Double(query) / Double(queries) * 10000)
        let halvings: Int
        switch it {
        case ...10: halvings = 0
        case ...50: halvings = 1
        case ...200: halvings = 2
        case ...500: halvings = 3
        case ...1000: halvings = 4
        case ...2000: halvings = 5
        case ...4000: halvings = 6
        case ...6000: halvings = 7
        case ...8000: halvings = 8
        default: halvings = 9
        }
        return pInit / Float(1 << halvings)
    }

    /// Square Attack (Andriushchenko et al. 2020, L∞) on the samples still robust in `state`:
    /// start from vertical stripes of ±eps, then per query change one random s×s window of
    /// every channel to ±eps around the clean image, keeping the change when the margin
    /// z_y − max_{j≠y} z_j falls; a sample stops once its margin is ≤ 0. Only logits are used.
    /// Every random draw comes from the sample's own stream, so results do not depend on
    /// the batch.
    static func square(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int], eps: Float, queries: Int, pInit: Float,
                       restarts: Int, component: Int, seed: UInt64, state: inout AttackState) throws {
        let (channels, height, width) = (x.shape[1], x.shape[2], x.shape[3])
        let perImage = channels * height * width
        for restart in 0..<restarts {
            let active = state.robust.indices.filter { state.robust[$0] }
            guard !active.isEmpty else { return }
            let xs = x.rows(active)
            let ys = active.map { labels[$0] }
            var streams = active.map { SampleRandom.generator(seed: seed, .squareSearch, imageIndices[$0], component << 20 | restart) }
            var best = xs
            for (m, _) in active.enumerated() {
                for c in 0..<channels {
                    for w in 0..<width {
                        let sign: Float = SampleRandom.uniform(&streams[m], -1, 1) >= 0 ? 1 : -1
                        for h in 0..<height {
                            let j = m * perImage + (c * height + h) * width + w
                            best.data[j] = min(max(xs.data[j] + eps * sign, 0), 1)
                        }
                    }
                }
            }
            var bestMargin = AttackLoss.margin(try model.logits(best), labels: ys).margin
            for query in 0..<queries {
                let live = bestMargin.indices.filter { bestMargin[$0] > 0 }
                guard !live.isEmpty else { break }
                let p = squareFraction(query: query, queries: queries, pInit: pInit)
                let side = max(Int((Double(p) * Double(perImage) / Double(channels)).squareRoot().rounded(.toNearestOrEven)), 1)
                var candidate = best.rows(live)
                for (r, m) in live.enumerated() {
                    let top = Int(SampleRandom.uniform(&streams[m], 0, 1) * Float(height - side))
                    let left = Int(SampleRandom.uniform(&streams[m], 0, 1) * Float(width - side))
                    for c in 0..<channels {
                        let sign: Float = SampleRandom.uniform(&streams[m], -1, 1) >= 0 ? 1 : -1
                        for h in top..<min(top + side, height) {
                            for w in left..<min(left + side, width) {
                                let j = (c * height + h) * width + w
                                let value = candidate.data[r * perImage + j] + 2 * eps * sign
                                let origin = xs.data[m * perImage + j]
                                candidate.data[r * perImage + j] = min(max(min(max(value, origin - eps), origin + eps), 0), 1)
                            }
                        }
                    }
                }
                let margins = AttackLoss.margin(try model.logits(candidate), labels: live.map { ys[$0] }).margin
                for (r, m) in live.enumerated() where margins[r] < bestMargin[m] || margins[r] <= 0 {
                    bestMargin[m] = margins[r]
                    best.setRow(m, from: candidate, r)
                }
            }
            let predictions = try model.predict(best)
            for (m, i) in active.enumerated() {
                state.record(i, image: best, row: m, fooled: predictions[m] != ys[m], loss: -bestMargin[m], component: component)
            }
        }
    }

    /// AutoAttack's standard sequence (without FAB-T): APGD-CE, APGD-T over the top
    /// `targets` classes, Square; each on the samples the ones before left robust.
    static func runAutoAttack(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int], settings: AttackSettings,
                              seed: UInt64) throws -> AttackResult {
        let clean = try model.logits(x)
        let cleanPredictions = ResNet.argmax(clean)
        var state = AttackState(clean: x, cleanPredictions: cleanPredictions, labels: labels)
        try apgd(model, x: x, labels: labels, imageIndices: imageIndices, cleanLogits: clean, targets: nil, eps: settings.eps,
                 steps: settings.steps, restarts: 1, component: 1, seed: seed, state: &state)
        try apgd(model, x: x, labels: labels, imageIndices: imageIndices, cleanLogits: clean, targets: settings.targets,
                 eps: settings.eps, steps: settings.steps, restarts: 1, component: 2, seed: seed, state: &state)
        try square(model, x: x, labels: labels, imageIndices: imageIndices, eps: settings.eps, queries: settings.queries,
                   pInit: settings.pInit, restarts: 1, component: 3, seed: seed, state: &state)
        return AttackResult(adversarial: state.adversarial, predictions: try model.predict(state.adversarial),
                            cleanPredictions: cleanPredictions, zeroGradientCount: 0, brokenBy: state.brokenBy)
    }
}
