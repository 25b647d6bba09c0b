import AttributeSpace
import Grounding
import NeuralNet
import Randomness
import TestSupport
import XCTest

/// The exact identity behind attribute maps: the spatial mean of M_k, scaled and shifted by
/// the known constants, is the SJE's predicted attribute; Grad-CAM at the last stage is CAM.
final class AttributeMapTests: XCTestCase {
    var rng = SplitMix(seed: 11)

    func images(_ n: Int, _ size: Int) -> Tensor {
        Tensor(shape: [n, 3, size, size], data: (0..<n * 3 * size * size).map { _ in Float.random(in: 0..<1, using: &rng) })
    }

    func model() throws -> ResNet {
        let m = ResNet(config: try ResNetConfig.named("cifar-resnet8", numClasses: 4, width: 4, inputSize: 12), seed: 3)
        try m.trainStep(images(4, 12), labels: [0, 1, 2, 3], optimizer: try SGD(learningRate: 0.1))
        return m
    }

    func sje(_ kind: FeatureNormalisation, dimension d: Int, attributes a: Int, training: [Float]) -> SJE {
        let w = (0..<(d * a)).map { _ in Float.random(in: -1...1, using: &rng) }
        let phi = ClassNormalisation.l2.apply((0..<(4 * a)).map { _ in Float.random(in: 0...1, using: &rng) }, attributes: a)
        return SJE(w: w, featureDimension: d, classEmbeddings: phi, classCount: 4,
                   normaliser: FeatureNormaliser.fit(kind, features: training, dimension: d))
    }

    /// For every feature normalisation: s·mean(M_k) + b_k = SJE.attributes(θ)_k exactly (up
    /// to float rounding), and after predict-attributes' L2 normalisation the two agree too.
    func testMapMeansReproducePredictedAttributes() throws {
        let m = try model()
        let x = images(5, 12)
        let map = try m.featureMap(x)
        let (n, d, h, w) = (map.shape[0], map.shape[1], map.shape[2], map.shape[3])
        let features = try m.features(x).data
        let a = 7
        for kind in FeatureNormalisation.allCases {
            let embedding = sje(kind, dimension: d, attributes: a, training: try m.features(images(8, 12)).data)
            let mapper = AttributeMapper(sje: embedding)
            let expected = embedding.attributes(features: features)
            let scales = mapper.scales(pooled: features)
            var fromMaps = [Float](repeating: 0, count: n * a)
            for i in 0..<n {
                let maps = mapper.maps(featureMap: map.data[(i * d * h * w)..<((i + 1) * d * h * w)], positions: h * w,
                                       attributes: Array(0..<a))
                for k in 0..<a {
                    let mean = maps[(k * h * w)..<((k + 1) * h * w)].reduce(0, +) / Float(h * w)
                    fromMaps[i * a + k] = scales[i] * mean + mapper.offset[k]
                }
            }
            assertClose(fromMaps, expected, tolerance: 1e-4, "\(kind): s·mean(M) + b vs θW")
            assertClose(mapper.scores(pooled: features), expected, tolerance: 1e-4, "\(kind): folded scores vs θW")
            var (normalisedMaps, normalisedExpected) = (fromMaps, expected)
            AttributeNormalisation.l2.apply(to: &normalisedMaps, attributes: a)
            AttributeNormalisation.l2.apply(to: &normalisedExpected, attributes: a)
            assertClose(normalisedMaps, normalisedExpected, tolerance: 1e-4, "\(kind): after L2")
            if kind != .standardise { XCTAssertEqual(mapper.offset, [Float](repeating: 0, count: a)) }
        }
    }

    /// At the last stage Grad-CAM's weights are s·W'_ck/(h·w) at every position, so its map is
    /// CAM scaled by s/(h·w); at an earlier stage it has that stage's resolution.
    func testGradCAMAtTheLastStageIsScaledCAM() throws {
        let m = try model()
        let x = images(2, 12)
        let pass = try m.stagePass(x, stage: m.stageCount - 1)
        let (d, h, w) = (pass.finalMap.shape[1], pass.finalMap.shape[2], pass.finalMap.shape[3])
        let features = try m.features(x).data
        let embedding = sje(.l2, dimension: d, attributes: 5, training: features)
        let mapper = AttributeMapper(sje: embedding)
        let scales = mapper.scales(pooled: features)
        let chosen = [[4, 0, 2], [1, 1, 3]]
        let grad = try GradCAM(model: m, mapper: mapper).maps(pass, attributes: chosen, scales: scales)
        var cam: [Float] = []
        for i in 0..<2 {
            let maps = mapper.maps(featureMap: pass.finalMap.data[(i * d * h * w)..<((i + 1) * d * h * w)], positions: h * w, attributes: chosen[i])
            cam += maps.map { $0 * scales[i] / Float(h * w) }
        }
        assertClose(grad, cam, tolerance: 1e-5, "Grad-CAM at the last stage vs scaled CAM")

        let early = try m.stagePass(x, stage: 0)
        let earlyMaps = try GradCAM(model: m, mapper: mapper).maps(early, attributes: chosen, scales: scales)
        XCTAssertEqual(earlyMaps.count, 2 * 3 * early.stageMap.shape[2] * early.stageMap.shape[3])
        XCTAssertTrue(earlyMaps.allSatisfy(\.isFinite))
    }
}
