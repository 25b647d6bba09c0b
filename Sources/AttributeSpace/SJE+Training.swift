import Randomness
import Tensors

/// How W is initialised before training.
public enum SJEInitialisation: String, CaseIterable, Sendable {
    /// U[0,1)/√D — what the authors used.
    case uniform
    /// N(0,1)/√D — Xian et al.'s tutorial code.
    case normal
    /// All zeros: the first pass is then pure perceptron-style learning.
    case zeros
}

/// Settings of SJE training (defaults: the authors' CUB setting).
public struct SJETrainingOptions: Sendable {
    public var learningRate: Float = 0.01
    public var epochs = 100
    public var initialisation = SJEInitialisation.uniform
    public var featureNormalisation = FeatureNormalisation.none
    public var classNormalisation = ClassNormalisation.l2
    /// Stop after this many epochs without a validation gain (nil: run every epoch).
    public var patience: Int?
    public var seed: UInt64 = 0
    public init() {}
}

/// Per-epoch accuracies and which epoch's W was kept.
public struct SJEHistory: Sendable {
    /// Accuracy on the training split after each epoch (W as it stood then).
    public var trainAccuracy: [Double] = []
    /// Accuracy on the validation split after each epoch.
    public var valAccuracy: [Double] = []
    /// 1-based epoch whose W was kept (the best validation accuracy, earliest on ties).
    public var bestEpoch = 0
    public var bestValAccuracy: Double { bestEpoch > 0 ? valAccuracy[bestEpoch - 1] : 0 }
}

/// Trains an SJE by per-sample SGD with a Δ = 1 margin against the most violating class
/// (docs/design.md § Semantics): for each shuffled training sample n, y* = argmax_y Δ(yₙ, y) + θₙᵀWφ(y);
/// if y* ≠ yₙ, W += η θₙ (φ(yₙ) − φ(y*))ᵀ. The W with the best validation accuracy is kept.
///
/// Why it is fast, while visiting samples one by one exactly as above:
/// - scores only need M = Wφᵀ ([D, C], smaller than W when C < A), and each update of W
///   maps to the rank-1 update M += η θₙ gₙᵀ with gₙ = φ(φ(yₙ) − φ(y*));
/// - samples are taken in blocks whose scores come from one GEMM, corrected for the
///   block's own earlier updates through its Gram matrix (`trainBlock`);
/// - W itself is never touched during training: every update adds η θₙ dₙᵀ and θₙ is
///   fixed, so W = W₀ + η Θᵀ Γ where row n of Γ sums the dₙ applied for sample n — one
///   GEMM at the end, for the best epoch's Γ.
public enum SJETrainer {
    /// Fits an SJE. Features are row-major raw [N, D] (normalised here per `options`);
    /// `classAttributes` is [C, A] in [0, 1]. `onEpoch` sees (epoch, train acc, val acc).
    public static func fit(trainFeatures: [Float], trainLabels: [Int32], valFeatures: [Float], valLabels: [Int32],
                           dimension: Int, classAttributes: [Float], classCount: Int, options: SJETrainingOptions,
                           onEpoch: ((Int, Double, Double) -> Void)? = nil) -> (SJE, SJEHistory) {
        let d = dimension, c = classCount, a = classAttributes.count / classCount
        let n = trainLabels.count
        let eta = options.learningRate
        let normaliser = FeatureNormaliser.fit(options.featureNormalisation, features: trainFeatures, dimension: d)
        var x = trainFeatures
        normaliser.apply(to: &x, dimension: d)
        var xVal = valFeatures
        normaliser.apply(to: &xVal, dimension: d)
        let phi = options.classNormalisation.apply(classAttributes, attributes: a)  // (C, A)

        var rng = SplitMix(seed: options.seed, stream: RandomStreams.sje)
        let w0 = initialW(options.initialisation, d: d, a: a, rng: &rng)  // (D, A)
        var m = [Float](repeating: 0, count: d * c)  // (D, C) = W φᵀ
        BLAS.gemm(w0, phi, into: &m, m: d, n: c, k: a, transB: true, threadIndependent: true)
        var gram = [Float](repeating: 0, count: c * c)  // (C, C) = φ φᵀ, so φ(φ_y − φ_y*) = G[:,y] − G[:,y*]
        BLAS.gemm(phi, phi, into: &gram, m: c, n: c, k: a, transB: true, threadIndependent: true)

        var gamma = [Float](repeating: 0, count: n * a)  // (N, A)
        var bestGamma = gamma
        var history = SJEHistory()
        var order = Array(0..<n)
        var sinceBest = 0

        for epoch in 1...max(options.epochs, 1) {
            shuffle(&order, &rng)
            for blockStart in stride(from: 0, to: n, by: blockSize) {
                let block = Array(order[blockStart..<min(blockStart + blockSize, n)])
                trainBlock(block, x: x, labels: trainLabels, m: &m, gamma: &gamma, phi: phi, gram: gram,
                           eta: eta, d: d, c: c, a: a)
            }
            let trainAccuracy = accuracy(x, trainLabels, m, d: d, c: c)
            let valAccuracy = accuracy(xVal, valLabels, m, d: d, c: c)
            history.trainAccuracy.append(trainAccuracy)
            history.valAccuracy.append(valAccuracy)
            onEpoch?(epoch, trainAccuracy, valAccuracy)
            if history.bestEpoch == 0 || valAccuracy > history.bestValAccuracy {
                history.bestEpoch = epoch
                bestGamma = gamma
                sinceBest = 0
            } else {
                sinceBest += 1
                if let patience = options.patience, sinceBest >= patience { break }
            }
        }

        // W = W₀ + η Θᵀ Γ_best
        var w = w0
        BLAS.gemm(x, bestGamma, into: &w, m: d, n: a, k: n, transA: true, alpha: eta, beta: 1, threadIndependent: true)
        return (SJE(w: w, featureDimension: d, classEmbeddings: phi, classCount: c, normaliser: normaliser), history)
    }

    /// Samples visited per block; see `trainBlock`.
    static let blockSize = 64

    /// Visits `block` (sample indices, in order) exactly as per-sample SGD would, but with
    /// GEMMs instead of one matrix-vector product per sample: the scores of the whole
    /// block against the M of the block's start come from one GEMM, and each later sample
    /// j adds the effect of the block's earlier updates i, η (x_jᵀx_i) g_iᵀ, through the
    /// block's Gram matrix. The block's updates are applied to M by one GEMM at the end.
    static func trainBlock(_ block: [Int], x: [Float], labels: [Int32], m: inout [Float], gamma: inout [Float],
                           phi: [Float], gram: [Float], eta: Float, d: Int, c: Int, a: Int) {
        let b = block.count
        var xb = [Float](repeating: 0, count: b * d)  // (B, D) rows of the block
        for (j, sample) in block.enumerated() {
            for i in 0..<d { xb[j * d + i] = x[sample * d + i] }
        }
        var scores = [Float](repeating: 0, count: b * c)  // (B, C) = X_B M
        BLAS.gemm(xb, m, into: &scores, m: b, n: c, k: d, transB: false, threadIndependent: true)
        var kernel = [Float](repeating: 0, count: b * b)  // (B, B) = X_B X_Bᵀ
        BLAS.gemm(xb, xb, into: &kernel, m: b, n: b, k: d, transB: true, threadIndependent: true)
        var g = [Float](repeating: 0, count: b * c)  // (B, C): row j = η φ(φ_y − φ_y*) if j updated
        var updated: [Int] = []
        for j in 0..<b {
            let y = Int(labels[block[j]])
            for i in updated {
                let weight = kernel[j * b + i]
                for k in 0..<c { scores[j * c + k] += weight * g[i * c + k] }
            }
            // Δ = 1 for every wrong class.
            var worst = y
            var worstScore = scores[j * c + y]
            for k in 0..<c where k != y && scores[j * c + k] + 1 > worstScore {
                worst = k
                worstScore = scores[j * c + k] + 1
            }
            guard worst != y else { continue }
            for k in 0..<c { g[j * c + k] = eta * (gram[k * c + y] - gram[k * c + worst]) }
            updated.append(j)
            let sample = block[j]
            for i in 0..<a { gamma[sample * a + i] += phi[y * a + i] - phi[worst * a + i] }
        }
        guard !updated.isEmpty else { return }
        // M += X_Uᵀ G_U over the updated rows U.
        var xu = [Float](repeating: 0, count: updated.count * d)
        var gu = [Float](repeating: 0, count: updated.count * c)
        for (row, j) in updated.enumerated() {
            for i in 0..<d { xu[row * d + i] = xb[j * d + i] }
            for k in 0..<c { gu[row * c + k] = g[j * c + k] }
        }
        BLAS.gemm(xu, gu, into: &m, m: d, n: c, k: updated.count, transA: true, beta: 1, threadIndependent: true)
    }

    /// Fraction of rows of normalised features whose argmax of xᵀM is the label.
    static func accuracy(_ x: [Float], _ labels: [Int32], _ m: [Float], d: Int, c: Int) -> Double {
        guard !labels.isEmpty else { return 0 }
        var s = [Float](repeating: 0, count: labels.count * c)
        BLAS.gemm(x, m, into: &s, m: labels.count, n: c, k: d, transB: false, threadIndependent: true)
        let predictions = SJE.argmax(scores: s, classes: c)
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    static func initialW(_ kind: SJEInitialisation, d: Int, a: Int, rng: inout SplitMix) -> [Float] {
        let scale = 1 / Float(d).squareRoot()
        switch kind {
        case .zeros: return [Float](repeating: 0, count: d * a)
        case .uniform: return (0..<(d * a)).map { _ in Float(rng.uniform()) * scale }
        case .normal: return (0..<(d * a)).map { _ in rng.normal() * scale }
        }
    }

    static func shuffle(_ order: inout [Int], _ rng: inout SplitMix) {
        order = order.seededShuffle(&rng)
    }
}
