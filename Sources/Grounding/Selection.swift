import AttributeSpace

/// The attributes grounded per image (paper eqs. 7–8), top k instead of the argmax alone,
/// and a reference set for comparison.
public enum AttributeSelection {
    /// A ranked choice: attribute indices, largest value first, with the values ranked.
    public struct Ranked: Sendable, Equatable {
        public var attributes: [Int]
        public var scores: [Float]
    }

    /// Indices and values of the `k` largest entries of `values` (ties: lower index first).
    public static func top(_ k: Int, of values: [Float]) -> Ranked {
        let chosen = DiscriminativeAttributes.top(k, of: values)
        return Ranked(attributes: chosen, scores: chosen.map { values[$0] })
    }

    /// Eq. 7, clean image: rank attribute i by Aᵢ − φ(y)ᵢ, y the wrong class.
    public static func clean(_ a: ArraySlice<Float>, phiWrong: ArraySlice<Float>, k: Int) -> Ranked {
        top(k, of: zip(a, phiWrong).map { $0 - $1 })
    }

    /// Eq. 8, adversarial image: rank attribute i by Âᵢ − φ(yₙ)ᵢ, yₙ the true class.
    public static func adversarial(_ aHat: ArraySlice<Float>, phiTrue: ArraySlice<Float>, k: Int) -> Ranked {
        top(k, of: zip(aHat, phiTrue).map { $0 - $1 })
    }

    /// The reference set: the true class's `k` most present attributes (its row of the
    /// [0, 1] class-attribute matrix).
    public static func reference(classRow: ArraySlice<Float>, k: Int) -> Ranked {
        top(k, of: Array(classRow))
    }

    /// The wrong class y of eq. 7: the class the adversarial image is assigned in attribute
    /// space when that is not the true class; when the attack did not move it off the true
    /// class, the runner-up of the adversarial image's class scores (the class it came
    /// closest to). `scores` are the adversarial image's Âᵀφ(y) over classes.
    public static func wrongClass(label: Int, adversarialScores scores: ArraySlice<Float>) -> Int {
        let values = Array(scores)
        var best = -1
        for c in values.indices where c != label && (best < 0 || values[c] > values[best]) { best = c }
        return best
    }
}
