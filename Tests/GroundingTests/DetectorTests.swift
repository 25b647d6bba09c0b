import Grounding
import NeuralNet
import Randomness
import Tensors
import XCTest

/// The detector's loss and backward against central finite differences, and its decisions
/// on constructed outputs.
final class DetectorTests: XCTestCase {
    // 2 parts, 3 attributes: attribute 0 on part 0, attribute 1 on parts 0 and 1, attribute 2 on none.
    let parts = AttributeParts(parts: [[0], [0, 1], []])
    let masks: [[UInt8]] = [[0, 1, 1, 2, 0, 2, 1, 0, 0], [2, 2, 0, 1, 0, 0, 1, 2, 0]]
    let present: [Float] = [1, 0, 1, 0, 1, 1]

    func loss(_ detector: AttributeDetector, _ x: Tensor) throws -> Double {
        let (logits, _) = try detector.forward(x)
        let l = DetectorLoss.lossAndGradient(logits: logits, masks: masks, present: present, partCount: 2, attributeParts: parts)
        return l.part + l.attribute
    }

    func testLossGradientMatchesFiniteDifferences() {
        var rng = SplitMix(seed: 3)
        let logits = Tensor(shape: [2, 6, 3, 3], data: (0..<108).map { _ in rng.uniformFloat(-2, 2) })
        let analytic = DetectorLoss.lossAndGradient(logits: logits, masks: masks, present: present, partCount: 2, attributeParts: parts)
        XCTAssertEqual(analytic.gradient.data[3 * 9 + 0], 0, "background pixels train no attribute (image 0, attribute 0, pixel 0)")
        XCTAssertEqual(analytic.gradient.data[5 * 9 + 1], 0, "an attribute without parts trains nowhere")
        let h: Float = 1e-2
        for i in stride(from: 0, to: 108, by: 5) {
            var plus = logits.data, minus = logits.data
            plus[i] += h; minus[i] -= h
            func total(_ d: [Float]) -> Double {
                let l = DetectorLoss.lossAndGradient(logits: Tensor(shape: logits.shape, data: d), masks: masks, present: present, partCount: 2,
                                                     attributeParts: parts)
                return l.part + l.attribute
            }
            let numeric = (total(plus) - total(minus)) / Double(2 * h)
            XCTAssertEqual(Double(analytic.gradient.data[i]), numeric, accuracy: 2e-4, "logit \(i)")
        }
    }

    /// The loss, its gradient, the parameter gradients and the detections are the same whether
    /// the logits stay channels last (`forwardInLayout`, what train-detector and ground use on
    /// oneDNN) or are NCHW, on every backend.
    func testChannelsLastLogitsGiveTheSameLossGradientsAndDetections() throws {
        let detector = AttributeDetector(widths: [3, 4], partCount: 2, attributeCount: 3, seed: 9)
        var rng = SplitMix(seed: 6)
        let x = Tensor(shape: [2, 3, 3, 3], data: (0..<54).map { _ in rng.uniformFloat(0, 1) })
        for backend in Engine.availableBackends {
            try Engine.withBackend(backend) {
                func run(_ layout: ActivationLayout) throws -> (Double, [Float], [[Float]], [PartDetections]) {
                    try Engine.withActivationLayout(layout) {
                        let (logits, trace) = try detector.forwardInLayout(x)
                        let l = DetectorLoss.lossAndGradient(logits: logits, masks: masks, present: present, partCount: 2,
                                                             attributeParts: parts, layout: trace.layout)
                        let grads = detector.backward(l.gradient, trace: trace, inLayout: true)
                        return (l.part + l.attribute, l.gradient.converted(from: trace.layout, to: .nchw).data, grads.map(\.data),
                                try detector.detect(x, attributeParts: parts))
                    }
                }
                let (planar, last) = (try run(.nchw), try run(.nhwc))
                XCTAssertEqual(last.0, planar.0, accuracy: 1e-6, "\(backend): loss")
                for (a, b) in zip(last.1, planar.1) { XCTAssertEqual(a, b, accuracy: 1e-6, "\(backend): dlogits") }
                for (ga, gb) in zip(last.2, planar.2) {
                    for (a, b) in zip(ga, gb) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "\(backend): parameter gradient") }
                }
                for (a, b) in zip(last.3, planar.3) {
                    XCTAssertEqual(a.peaks.map(\.row), b.peaks.map(\.row), "\(backend): peaks")
                    XCTAssertEqual(a.peaks.map(\.column), b.peaks.map(\.column), "\(backend): peaks")
                    for (u, v) in zip(a.confidence + a.values.flatMap { $0 }, b.confidence + b.values.flatMap { $0 }) {
                        XCTAssertEqual(u, v, accuracy: 1e-5, "\(backend): confidences and value scores")
                    }
                }
            }
        }
    }

    func testBackwardMatchesFiniteDifferences() throws {
        let detector = AttributeDetector(widths: [3, 4], partCount: 2, attributeCount: 3, seed: 9)
        var rng = SplitMix(seed: 4)
        let x = Tensor(shape: [2, 3, 3, 3], data: (0..<54).map { _ in rng.uniformFloat(0, 1) })
        let (logits, trace) = try detector.forward(x)
        let g = DetectorLoss.lossAndGradient(logits: logits, masks: masks, present: present, partCount: 2, attributeParts: parts)
        let grads = detector.backward(g.gradient, trace: trace)
        XCTAssertEqual(grads.count, detector.parameters.count)
        // Small steps: a larger one moves pre-activations across ReLU's kink.
        let h: Float = 1e-3
        // Every parameter tensor, a few entries each: perturb, recompute the loss through forward.
        for (p, (name, tensor)) in detector.parameters.enumerated() {
            for e in stride(from: 0, to: tensor.count, by: max(1, tensor.count / 4)) {
                func perturbed(_ delta: Float) throws -> Double {
                    var copy = detector
                    var values = tensor.data
                    values[e] += delta
                    copy.setParameter(p, Tensor(shape: tensor.shape, data: values))
                    return try loss(copy, x)
                }
                let numeric = (try perturbed(h) - (try perturbed(-h))) / Double(2 * h)
                XCTAssertEqual(Double(grads[p].data[e]), numeric, accuracy: 3e-3 + 1e-2 * abs(numeric), "\(name)[\(e)]")
            }
        }
    }

    func testDecisionsFollowPartAndGroup() {
        // Part 0 found at (1.5, 2.5), part 1 not found; values: attribute 0 = 0.8, attribute 1 = 0.6 on part 0, 0.9 on part 1.
        let d = PartDetections(confidence: [0.9, 0.3], peaks: [(1.5, 2.5), (0.5, 0.5)], values: [[0.8], [0.6, 0.9], []])
        let groups = AttributeGroups(attributeNames: ["has_a::x", "has_a::y", "has_b::z"])
        XCTAssertEqual(groups.members[0], [0, 1])
        let first = d.find(0, groups: groups, parts: parts)
        XCTAssertTrue(first.found, "part found and the top of its group (0.8 > 0.6)")
        XCTAssertEqual(first.peak?.row, 1.5)
        XCTAssertFalse(d.find(1, groups: groups, parts: parts).found, "scored on its more confident part 0 (0.6): not its group's top")
        XCTAssertNil(d.find(2, groups: groups, parts: parts).peak, "no part: nothing to find")
    }
}
