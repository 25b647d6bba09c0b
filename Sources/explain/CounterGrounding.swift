import AttributeSpace
import ClassifierKit
import Foundation
import Grounding
import NeuralNet
import PipelineKit
import Randomness

/// Grounds counter-attributes with the ground stage's maps and pointing game (docs/ground.md,
/// docs/explain.md): each counter-attribute that rose (the counter-class has it) is mapped on
/// the counter-image and on the nearest counter-example (a training image of the counter-class),
/// and counts as grounded there when the map's peak falls on the attribute's part and that
/// image truly has the attribute. Only sets with part truth can be scored.
struct CounterGrounding {
    /// Codes per (image, counter-attribute): grounded, not, not scorable (no part for the
    /// attribute or none visible), not tried (the attribute fell, or no such counter-attribute).
    static let grounded: UInt8 = 1, notGrounded: UInt8 = 0, notScorable: UInt8 = 2, notTried: UInt8 = 3

    let network: ResNet
    let mapper: AttributeMapper
    let scorer: GroundingScorer
    let truth: DatasetTruth
    let images: ImageSet
    let seed: UInt64

    /// nil (with the reason logged) when the dataset has no part truth to score against.
    init?(model: String, embedding: SJE, images path: String, seed: UInt64) throws {
        images = try ImageSet(path)
        truth = try DatasetTruth(images)
        let parts = try truth.attributeParts(table: nil)
        if let why = truth.whyUnscorable(with: parts) {
            Log.info("explain: \(path) has no part truth (\(why)): counter-attributes are not grounded")
            return nil
        }
        network = try ResNet.load(from: model)
        try images.checkCompatible(with: network, modelPath: model)
        mapper = AttributeMapper(sje: embedding)
        scorer = GroundingScorer(game: PointingGame(tolerance: PointingGame.tolerance(imageSize: truth.imageSize)),
                                 imageSize: truth.imageSize, attributeParts: parts)
        self.seed = seed
    }

    /// Codes [rows.count, k] for `attributes[i]` (the rising counter-attributes of image i, at
    /// their places 0..<k; −1 where none) on the images `pixels` (N, 3, H, W), whose truth is
    /// images.h5 row `truthRows[i]`.
    func codes(pixels: Tensor, truthRows: [Int], attributes: [[Int]], k: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: Self.notTried, count: truthRows.count * k)
        let pass = try GroundingPass(network, mapper, pixels, stage: nil)
        let chosen = attributes.map { $0.filter { $0 >= 0 } }
        let maps = try pass.maps(chosen)
        let (mh, mw) = pass.mapSize
        let masks = try truth.masks(truthRows)
        var offset = 0
        for (i, row) in truthRows.enumerated() {
            let partTruth = truth.truth(row: row, mask: masks[i])
            let shown = ShownParts(partTruth)
            // The pointing game's random baselines are not used here; their stream is fixed per image.
            var rng = SplitMix(seed: seed, stream: UInt64(row))
            for (place, attribute) in attributes[i].enumerated() where attribute >= 0 {
                let map = Map2D(rows: mh, columns: mw, values: Array(maps[(offset * mh * mw)..<((offset + 1) * mh * mw)]))
                offset += 1
                let item = scorer.score(map: map, attribute: attribute, truth: partTruth, shown: shown,
                                        present: truth.has(row: row, attribute: attribute), box: truth.box(row: row), rng: &rng)
                out[i * k + place] = !item.scored ? Self.notScorable : item.grounded ? Self.grounded : Self.notGrounded
            }
        }
        return out
    }
}
