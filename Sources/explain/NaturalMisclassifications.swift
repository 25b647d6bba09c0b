import AttributeSpace
import Foundation
import HDF5Store

/// Nearest training images, stored as rows of images.h5 with their distances.
enum Examples {
    /// Writes `hits` (rows of the training attributes file) into row `row` of [N, width]
    /// arrays as images.h5 rows (`index`); unused places stay −1 / NaN.
    static func store(_ hits: [(row: Int, distance: Float)], row: Int, width: Int, index: [Int64],
                      into examples: inout [Int64], _ distances: inout [Float]) {
        for (j, hit) in hits.enumerated() {
            examples[row * width + j] = index[hit.row]
            distances[row * width + j] = hit.distance
        }
    }
}

/// Clean test images the model gets wrong (general classifier f), explained as the paper
/// explains adversarial ones (eqs. 7–8 with the clean image in both roles) plus
/// counter-examples: group `natural/` of an explanation file.
struct NaturalMisclassifications {
    /// Rows of the adversarial file (= test images) whose clean prediction is wrong.
    let rows: [Int]
    let index: [Int64]
    let labels: [Int32]
    let predictions: [Int32]
    let attributePredictions: [Int32]
    /// Eq. 8 form, argmax_i (A_i − φ(y)_i): what the image shows more than its true class (why the wrong class).
    let wrongEvidence: [Int32]
    /// Eq. 7 form, argmax_i (A_i − φ(p)_i): what the image shows more than the predicted class (the true class's case).
    let trueEvidence: [Int32]
    let predictedExamples: [Int64], predictedDistances: [Float]
    let trueExamples: [Int64], trueDistances: [Float]
    let topK: Int, neighbours: Int

    init(adv: AdversarialRowsRead, clean: Predictions, cleanRow: [Int64: Int], train: Predictions, trainOfClass: [[Int]],
         phi: [Float], attributes a: Int, topK k: Int, neighbours m: Int) {
        rows = adv.index.indices.filter { adv.cleanPredictions[$0] != adv.labels[$0] }
        index = rows.map { adv.index[$0] }
        labels = rows.map { adv.labels[$0] }
        predictions = rows.map { adv.cleanPredictions[$0] }
        let A = clean.attributes!, trainA = train.attributes!
        attributePredictions = index.map { clean.predictions[cleanRow[$0]!] }
        var wrong: [Int32] = [], right: [Int32] = []
        var pe = [Int64](repeating: -1, count: rows.count * m), pd = [Float](repeating: .nan, count: rows.count * m)
        var te = [Int64](repeating: -1, count: rows.count * m), td = [Float](repeating: .nan, count: rows.count * m)
        for (j, image) in index.enumerated() {
            let r = cleanRow[image]!
            let vector = A[(r * a)..<((r + 1) * a)]
            let (y, p) = (Int(labels[j]), Int(predictions[j]))
            wrong += DiscriminativeAttributes.top(k, of: (0..<a).map { vector[vector.startIndex + $0] - phi[y * a + $0] }).map(Int32.init)
            right += DiscriminativeAttributes.top(k, of: (0..<a).map { vector[vector.startIndex + $0] - phi[p * a + $0] }).map(Int32.init)
            Examples.store(Counterfactuals.nearest(m, to: vector, among: trainOfClass[p], vectors: trainA), row: j, width: m,
                           index: train.index, into: &pe, &pd)
            Examples.store(Counterfactuals.nearest(m, to: vector, among: trainOfClass[y], vectors: trainA), row: j, width: m,
                           index: train.index, into: &te, &td)
        }
        (wrongEvidence, trueEvidence) = (wrong, right)
        (predictedExamples, predictedDistances, trueExamples, trueDistances) = (pe, pd, te, td)
        (topK, neighbours) = (k, m)
    }

    func write(to file: H5File) throws {
        let n = rows.count
        try file.createGroup("natural")
        try file.write("natural/index", index, shape: [n])
        try file.write("natural/labels", labels, shape: [n])
        try file.write("natural/predictions", predictions, shape: [n])
        try file.write("natural/attribute_predictions", attributePredictions, shape: [n])
        try file.write("natural/wrong_evidence", wrongEvidence, shape: [n, topK])
        try file.write("natural/true_evidence", trueEvidence, shape: [n, topK])
        try file.write("natural/predicted_examples", predictedExamples, shape: [n, neighbours])
        try file.write("natural/predicted_distances", predictedDistances, shape: [n, neighbours])
        try file.write("natural/true_examples", trueExamples, shape: [n, neighbours])
        try file.write("natural/true_distances", trueDistances, shape: [n, neighbours])
    }
}
