/// Counterfactual explanations in attribute space (docs/explain.md; Gulshad & Smeulders,
/// "Explaining with counter visual attributes and examples"): which attributes an image would
/// need to change to become a counter-class, and what that class looks like. Vectors are rows
/// of length A; φ is the SJE's class embedding [C, A] (as the attribute-based classifier F
/// uses it), predicted attributes are the attributes files' (L2-normalised).
public enum Counterfactuals {
    /// The attribute-based class of an attribute vector: argmax_c aᵀφ(c), ties to the lower class.
    public static func classify(_ a: ArraySlice<Float>, phi: [Float], classes: Int) -> Int {
        let count = a.count
        var best = 0, bestScore = -Float.infinity
        for c in 0..<classes {
            var score: Float = 0
            for i in 0..<count { score += a[a.startIndex + i] * phi[c * count + i] }
            if score > bestScore { (best, bestScore) = (c, score) }
        }
        return best
    }

    /// Counter-attribute scores: sᵢ = (Âᵢ − Aᵢ)·(φ(t)ᵢ − φ(y)ᵢ), large when attribute i moved
    /// from the clean `a` to the perturbed `aHat` in the direction that separates the counter-class
    /// t from the true class y, and by much on an attribute that separates them much.
    public static func counterScores(a: ArraySlice<Float>, aHat: ArraySlice<Float>, phiTrue: ArraySlice<Float>,
                                     phiCounter: ArraySlice<Float>) -> [Float] {
        (0..<a.count).map { i in
            (aHat[aHat.startIndex + i] - a[a.startIndex + i]) * (phiCounter[phiCounter.startIndex + i] - phiTrue[phiTrue.startIndex + i])
        }
    }

    /// The minimal counter-attribute set, greedy in `ranking`'s order: starting from `a`, each
    /// attribute in turn takes its value in `aHat`, until F classifies the vector as `counter`.
    /// Returns the number of attributes changed (0 when F already says `counter`), or nil when
    /// changing all of `ranking` never reaches it.
    public static func minimalSetSize(a: ArraySlice<Float>, aHat: ArraySlice<Float>, ranking: [Int], counter: Int,
                                      phi: [Float], classes: Int) -> Int? {
        var current = Array(a)
        if classify(current[...], phi: phi, classes: classes) == counter { return 0 }
        for (step, i) in ranking.enumerated() {
            current[i] = aHat[aHat.startIndex + i]
            if classify(current[...], phi: phi, classes: classes) == counter { return step + 1 }
        }
        return nil
    }

    /// The `k` rows of `candidates` (rows of `vectors` [N, A]) nearest to `query` in Euclidean
    /// distance, nearest first (ties: lower row first), with their distances.
    public static func nearest(_ k: Int, to query: ArraySlice<Float>, among candidates: [Int], vectors: [Float])
        -> [(row: Int, distance: Float)] {
        let a = query.count
        let scored = candidates.map { row -> (row: Int, distance: Float) in
            var sum: Float = 0
            for i in 0..<a {
                let d = vectors[row * a + i] - query[query.startIndex + i]
                sum += d * d
            }
            return (row, sum.squareRoot())
        }
        return Array(scored.sorted { $0.distance < $1.distance || ($0.distance == $1.distance && $0.row < $1.row) }.prefix(k))
    }

    /// Whether a counter-attribute agrees with the counter-class in the dataset's class
    /// attributes (raw φ in [0, 1]): it rose and the class has it (φ ≥ 1/2), or it fell and the
    /// class lacks it.
    public static func belongs(rose: Bool, classValue: Float) -> Bool { rose ? classValue >= 0.5 : classValue < 0.5 }

    /// Whether a counter-attribute is a real change for the image (its true per-image value in
    /// [0, 1]): it rose and the image lacks it, or it fell and the image has it.
    public static func imageLacks(rose: Bool, imageValue: Float) -> Bool { rose ? imageValue < 0.5 : imageValue >= 0.5 }
}

/// A confusion matrix [true, predicted] and its most frequent off-diagonal pairs.
public struct Confusion: Sendable, Equatable {
    public let classes: Int
    /// Counts, row-major [true][predicted].
    public private(set) var counts: [Int32]

    public init(classes: Int) {
        self.classes = classes
        counts = [Int32](repeating: 0, count: classes * classes)
    }

    /// Counts of `labels` against `predictions`.
    public init(classes: Int, labels: [Int32], predictions: [Int32]) {
        self.init(classes: classes)
        for (y, p) in zip(labels, predictions) { counts[Int(y) * classes + Int(p)] += 1 }
    }

    public subscript(trueClass: Int, predicted: Int) -> Int32 { counts[trueClass * classes + predicted] }

    /// The `n` most frequent (true, predicted) pairs with true ≠ predicted and a count above 0,
    /// most frequent first (ties: lower true class, then lower predicted class).
    public func topPairs(_ n: Int) -> [(trueClass: Int, predicted: Int, count: Int32)] {
        var pairs: [(trueClass: Int, predicted: Int, count: Int32)] = []
        for y in 0..<classes { for p in 0..<classes where p != y && self[y, p] > 0 { pairs.append((y, p, self[y, p])) } }
        return Array(pairs.sorted { ($0.count, -$0.trueClass, -$0.predicted) > ($1.count, -$1.trueClass, -$1.predicted) }.prefix(n))
    }
}
