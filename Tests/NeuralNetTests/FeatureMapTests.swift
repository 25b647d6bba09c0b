import Randomness
import NeuralNet
import TestSupport
import XCTest

/// The pre-pool feature map and the stage gradients Grad-CAM uses.
final class FeatureMapTests: XCTestCase {
    func images(_ n: Int, _ size: Int, seed: UInt64 = 9) -> Tensor {
        var rng = SplitMix(seed: seed)
        return Tensor(shape: [n, 3, size, size], data: (0..<n * 3 * size * size).map { _ in Float.random(in: 0..<1, using: &rng) })
    }

    /// Trained a step so batch norm is not the identity, then in eval mode.
    func model(_ name: String, size: Int, width: Int) throws -> ResNet {
        let m = ResNet(config: try ResNetConfig.named(name, numClasses: 3, width: width, inputSize: size), seed: 2)
        try m.trainStep(images(4, size, seed: 3), labels: [0, 1, 2, 0], optimizer: try SGD(learningRate: 0.1))
        return m
    }

    /// features(x) is exactly the spatial mean of featureMap(x), and logits are unchanged.
    func testSpatialMeanOfTheMapIsTheFeatureVector() throws {
        for (name, size, width) in [("cifar-resnet8", 12, 4), ("resnet18", 32, 4)] {
            let m = try model(name, size: size, width: width)
            let x = images(3, size)
            let map = try m.featureMap(x)
            let (n, d, h, w) = (map.shape[0], map.shape[1], map.shape[2], map.shape[3])
            XCTAssertEqual(n, 3)
            XCTAssertEqual(d, m.config.featureDimension)
            var means = [Float](repeating: 0, count: n * d)
            for i in 0..<(n * d) {
                means[i] = map.data[(i * h * w)..<((i + 1) * h * w)].reduce(0, +) / Float(h * w)
            }
            assertClose(means, try m.features(x).data, tolerance: 1e-5, "\(name): mean of the map vs features")
        }
    }

    /// stageGradient is the derivative of Σ r ⊙ finalMap(fromStage:) (central differences),
    /// and at the last stage it is the read-out itself.
    func testStageGradientMatchesFiniteDifferences() throws {
        let m = try model("cifar-resnet8", size: 8, width: 4)
        let x = images(2, 8)
        var rng = SplitMix(seed: 5)
        for stage in 0..<m.stageCount {
            let pass = try m.stagePass(x, stage: stage)
            assertClose(try m.finalMap(fromStage: stage, output: pass.stageMap).data, pass.finalMap.data, tolerance: 1e-5,
                        "stage \(stage): forward from the stage reproduces the map")
            let r = Tensor(shape: pass.finalMap.shape, data: (0..<pass.finalMap.count).map { _ in Float.random(in: -1...1, using: &rng) })
            let g = try m.stageGradient(pass, readOut: r)
            XCTAssertEqual(g.shape, pass.stageMap.shape)
            if stage == m.stageCount - 1 { XCTAssertEqual(g, r); continue }
            func objective(_ h: Tensor) throws -> Float {
                zip(try m.finalMap(fromStage: stage, output: h).data, r.data).reduce(0) { $0 + $1.0 * $1.1 }
            }
            // A sample of coordinates (ReLU kinks make a few coordinates unreliable at any step).
            var bad = 0, checked = 0
            for i in stride(from: 0, to: pass.stageMap.count, by: max(1, pass.stageMap.count / 40)) {
                var plus = pass.stageMap, minus = pass.stageMap
                plus.data[i] += 1e-3; minus.data[i] -= 1e-3
                let numeric = (try objective(plus) - objective(minus)) / 2e-3
                checked += 1
                if abs(numeric - g.data[i]) > 2e-2 * max(1, abs(numeric)) { bad += 1 }
            }
            XCTAssertLessThanOrEqual(bad, checked / 20, "stage \(stage): \(bad) of \(checked) coordinates disagree")
        }
        XCTAssertThrowsError(try m.stagePass(x, stage: m.stageCount))
    }

    /// featureInputGradient is the derivative of Σ r ⊙ features(x) with respect to the input
    /// (central differences), the kernel of the input-resolution attribute maps.
    func testFeatureInputGradientMatchesFiniteDifferences() throws {
        let m = try model("cifar-resnet8", size: 8, width: 4)
        let x = images(2, 8)
        var rng = SplitMix(seed: 6)
        let r = (0..<(2 * m.config.featureDimension)).map { _ in Float.random(in: -1...1, using: &rng) }
        let (features, g) = try m.featureInputGradient(x) { f in Tensor(shape: f.shape, data: r) }
        assertClose(features.data, try m.features(x).data, tolerance: 1e-5, "the features of the same pass")
        XCTAssertEqual(g.shape, x.shape)
        func objective(_ y: Tensor) throws -> Float { zip(try m.features(y).data, r).reduce(0) { $0 + $1.0 * $1.1 } }
        var bad = 0, checked = 0
        for i in stride(from: 0, to: x.count, by: max(1, x.count / 40)) {
            var plus = x, minus = x
            plus.data[i] += 1e-3; minus.data[i] -= 1e-3
            let numeric = (try objective(plus) - objective(minus)) / 2e-3
            checked += 1
            if abs(numeric - g.data[i]) > 2e-2 * max(1, abs(numeric)) { bad += 1 }
        }
        XCTAssertLessThanOrEqual(bad, checked / 20, "\(bad) of \(checked) input coordinates disagree")
    }
}
