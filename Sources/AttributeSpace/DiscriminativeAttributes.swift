/// The distance study of paper §5 (eqs. 7–8 and 12–15) and per-image explanations.
public enum DiscriminativeAttributes {
    /// Indices of the `k` largest values of `scores`, largest first (ties: lower index first).
    public static func top(_ k: Int, of scores: [Float]) -> [Int] {
        Array(scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k))
    }

    /// The attributes the distance study uses for one image: the top `fraction` of
    /// attributes by eq. 7, argmax_i (A_i − φ(y)_i) for the attributes `a` predicted for the
    /// correctly classified image against the wrong class y, united with the top `fraction`
    /// by eq. 8, argmax_i (Â_i − φ(yₙ)_i) for the misclassified image's attributes `aHat`
    /// against the true class yₙ. Sorted ascending.
    public static func selected(a: ArraySlice<Float>, aHat: ArraySlice<Float>, phiTrue: ArraySlice<Float>,
                                phiWrong: ArraySlice<Float>, fraction: Double) -> [Int] {
        let count = a.count
        let k = max(1, Int((Double(count) * fraction).rounded(.up)))
        let clean = (0..<count).map { a[a.startIndex + $0] - phiWrong[phiWrong.startIndex + $0] }
        let adversarial = (0..<count).map { aHat[aHat.startIndex + $0] - phiTrue[phiTrue.startIndex + $0] }
        return Array(Set(top(k, of: clean)).union(top(k, of: adversarial))).sorted()
    }

    /// Euclidean distance between two vectors restricted to `indices`.
    public static func distance(_ u: ArraySlice<Float>, _ v: ArraySlice<Float>, over indices: [Int]) -> Double {
        indices.reduce(0.0) { sum, i in
            let d = Double(u[u.startIndex + i]) - Double(v[v.startIndex + i])
            return sum + d * d
        }.squareRoot()
    }
}

/// d1 and d2 for the images of one study, with summaries.
public struct DistanceStudy: Sendable {
    /// Rows (into the study's image list) that entered the study.
    public var rows: [Int] = []
    /// d1: between the two predicted attribute vectors (eq. 12 or 14).
    public var d1: [Double] = []
    /// d2: between the two classes' attribute vectors (eq. 13 or 15).
    public var d2: [Double] = []

    public init() {}

    public var count: Int { d1.count }
    public var meanD1: Double { Self.mean(d1) }
    public var meanD2: Double { Self.mean(d2) }
    public var medianD1: Double { Self.median(d1) }
    public var medianD2: Double { Self.median(d2) }
    /// Fraction of images with d1 < d2 (attributes moved less than the class gap).
    public var fractionD1BelowD2: Double {
        count > 0 ? Double(zip(d1, d2).filter { $0 < $1 }.count) / Double(count) : .nan
    }

    /// Adds one image: `first` is the attribute vector of the correctly classified view
    /// (class `trueClass`), `second` that of the misclassified view (class `wrongClass`).
    public mutating func add(row: Int, first: ArraySlice<Float>, second: ArraySlice<Float>, phi: [Float], attributes: Int,
                             trueClass: Int, wrongClass: Int, fraction: Double) {
        let phiTrue = phi[(trueClass * attributes)..<((trueClass + 1) * attributes)]
        let phiWrong = phi[(wrongClass * attributes)..<((wrongClass + 1) * attributes)]
        let selected = DiscriminativeAttributes.selected(a: first, aHat: second, phiTrue: phiTrue, phiWrong: phiWrong,
                                                         fraction: fraction)
        rows.append(row)
        d1.append(DiscriminativeAttributes.distance(first, second, over: selected))
        d2.append(DiscriminativeAttributes.distance(phiTrue, phiWrong, over: selected))
    }

    static func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// Why one adversarial image was misclassified, in attributes.
public struct Explanation: Sendable {
    public var index: Int
    public var trueClass: Int
    public var wrongClass: Int
    /// Attributes whose predicted value rose most from clean to adversarial, largest first.
    public var rose: [Int]
    /// Attributes whose predicted value fell most, largest fall first.
    public var fell: [Int]

    /// The `k` largest rises and falls of Â − A.
    public init(index: Int, trueClass: Int, wrongClass: Int, clean: ArraySlice<Float>, adversarial: ArraySlice<Float>, k: Int) {
        self.index = index
        self.trueClass = trueClass
        self.wrongClass = wrongClass
        let change = (0..<clean.count).map { adversarial[adversarial.startIndex + $0] - clean[clean.startIndex + $0] }
        rose = DiscriminativeAttributes.top(k, of: change)
        fell = DiscriminativeAttributes.top(k, of: change.map { -$0 })
    }
}
