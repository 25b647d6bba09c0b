/// How features θ(x) are normalised before the SJE sees them.
public enum FeatureNormalisation: String, CaseIterable, Sendable {
    /// Raw features (the authors' setting: 2048-d average-pooled ResNet features).
    case none
    /// Each feature vector scaled to unit L2 norm.
    case l2
    /// Each dimension shifted and scaled by the training split's mean and standard deviation.
    case standardise
}

/// A fitted feature normaliser: the statistics come from the training split only and are
/// stored with the SJE, so validation, test and adversarial features get the same map.
public struct FeatureNormaliser: Equatable, Sendable {
    public let kind: FeatureNormalisation
    /// Per-dimension mean and standard deviation (`standardise` only; empty otherwise).
    public let mean: [Float]
    public let std: [Float]

    public init(kind: FeatureNormalisation, mean: [Float] = [], std: [Float] = []) {
        self.kind = kind
        self.mean = mean
        self.std = std
    }

    /// Fits the normaliser to row-major training features `[rows, dimension]`.
    public static func fit(_ kind: FeatureNormalisation, features: [Float], dimension: Int) -> FeatureNormaliser {
        guard kind == .standardise else { return FeatureNormaliser(kind: kind) }
        let rows = features.count / dimension
        var mean = [Double](repeating: 0, count: dimension)
        var squares = [Double](repeating: 0, count: dimension)
        for r in 0..<rows {
            for d in 0..<dimension {
                let v = Double(features[r * dimension + d])
                mean[d] += v
                squares[d] += v * v
            }
        }
        let n = Double(max(rows, 1))
        let means = mean.map { $0 / n }
        // Population std; constant dimensions get std 1 so they map to 0 instead of NaN.
        let stds = zip(squares, means).map { square, m -> Float in
            let variance = max(square / n - m * m, 0)
            return variance > 1e-12 ? Float(variance.squareRoot()) : 1
        }
        return FeatureNormaliser(kind: kind, mean: means.map(Float.init), std: stds)
    }

    /// Normalises row-major features `[rows, dimension]` in place.
    public func apply(to features: inout [Float], dimension: Int) {
        let rows = features.count / dimension
        switch kind {
        case .none:
            return
        case .l2:
            for r in 0..<rows {
                var norm: Float = 0
                for d in 0..<dimension { norm += features[r * dimension + d] * features[r * dimension + d] }
                norm = norm.squareRoot()
                guard norm > 0 else { continue }
                for d in 0..<dimension { features[r * dimension + d] /= norm }
            }
        case .standardise:
            for r in 0..<rows {
                for d in 0..<dimension { features[r * dimension + d] = (features[r * dimension + d] - mean[d]) / std[d] }
            }
        }
    }
}

/// How class attribute vectors φ(y) are normalised.
public enum ClassNormalisation: String, CaseIterable, Sendable {
    /// Each class row scaled to unit L2 norm (the authors' and Akata et al.'s choice).
    case l2
    /// The [0,1] class-attribute fractions as they are.
    case none

    /// Returns `classAttributes` `[classes, attributes]` normalised.
    public func apply(_ classAttributes: [Float], attributes: Int) -> [Float] {
        guard self == .l2 else { return classAttributes }
        var result = classAttributes
        for c in 0..<(classAttributes.count / attributes) {
            let row = (c * attributes)..<((c + 1) * attributes)
            let norm = result[row].reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { continue }
            for i in row { result[i] /= norm }
        }
        return result
    }
}
