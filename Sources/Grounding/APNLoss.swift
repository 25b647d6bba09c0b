import Foundation
import Tensors

/// The loss an `APNHead` is trained with, and its gradient with respect to the prototypes
/// and biases (checked against finite differences in GroundingTests/APNTests).
///
/// Over a batch of N images and A attributes (z_nk = max_p S_nk(p) + b_k, S = P·F̃):
/// - attribute term (APN's regression, here a binary cross-entropy against the image's
///   attribute truth y_nk ∈ [0, 1]): L_att = 1/(N·A) Σ softplus(z) − y·z;
/// - decorrelation (APN's L_AD, group-wise L2,1 of the prototypes: attributes of one group
///   share channels, different groups are pushed apart): L_AD = Σ_groups Σ_c ‖P_{group, c}‖₂;
/// - compactness (APN's L_CPT, the map's mass near its peak): with q_nk = softmax_p S_nk and
///   D(p) = ((r − r*)/rows)² + ((c − c*)/columns)² the squared distance to the peak
///   (r*, c*) = argmax S_nk (held fixed), L_CPT = 1/(N·A) Σ_{n,k} Σ_p q_nk(p)·D(p). APN
///   weights the raw map by D; the softmax keeps the term bounded below, since a raw
///   similarity can be pushed to −∞ away from the peak.
/// Total: L_att + λ_AD·L_AD + λ_CPT·L_CPT.
public struct APNLoss: Sendable {
    public var decorrelation: Float
    public var compactness: Float
    /// Attribute indices of each group (`AttributeParts.group`), for L_AD.
    public var groups: [[Int]]

    public init(decorrelation: Float, compactness: Float, groups: [[Int]]) {
        self.decorrelation = decorrelation
        self.compactness = compactness
        self.groups = groups
    }

    /// The groups of `attributeNames` (CUB's `has_x::value` → `has_x`), in first-seen order.
    public static func groups(attributeNames: [String]) -> [[Int]] {
        var order: [String] = [], members: [String: [Int]] = [:]
        for (a, name) in attributeNames.enumerated() {
            let g = AttributeParts.group(of: name)
            if members[g] == nil { order.append(g) }
            members[g, default: []].append(a)
        }
        return order.map { members[$0]! }
    }

    public struct Value {
        public var attribute = 0.0
        public var decorrelation = 0.0
        public var compactness = 0.0
        public var total = 0.0
        /// ∂L/∂P [A, C] and ∂L/∂b [A].
        public var prototypes: [Float]
        public var bias: [Float]
        /// ∂L/∂F̃ per image (C × positions, as `features`), with `featureGradients` only: what
        /// end-to-end training (`APNJointLoss`) sends back into the classifier.
        public var features: [[Float]] = []
    }

    /// Loss and gradient for `features` (N standardised stage maps, each C × rows·columns)
    /// with attribute truth `targets` [N, A]; with `featureGradients`, also ∂L/∂F̃ of every image.
    public func evaluate(_ head: APNHead, features: [[Float]], rows: Int, columns: Int, targets: [Float],
                         featureGradients: Bool = false) -> Value {
        let (a, c, positions, n) = (head.attributeCount, head.channels, rows * columns, features.count)
        precondition(targets.count == n * a && features.allSatisfy { $0.count == c * positions })
        var value = Value(prototypes: [Float](repeating: 0, count: a * c), bias: [Float](repeating: 0, count: a))
        let scale = 1 / Float(max(1, n * a))
        var gradS = [Float](repeating: 0, count: a * positions)
        var q = [Float](repeating: 0, count: positions)
        for (i, f) in features.enumerated() {
            let s = head.similarity(standardised: f)
            for k in 0..<a {
                let row = s[(k * positions)..<((k + 1) * positions)]
                let (peak, top) = APNHead.argmax(row)
                let z = top + head.bias[k], y = targets[i * a + k]
                value.attribute += Double(max(z, 0) - z * y + log1pf(expf(-abs(z))))
                let dz = (1 / (1 + expf(-z)) - y) * scale
                value.bias[k] += dz
                let g = k * positions
                for p in 0..<positions { gradS[g + p] = 0 }
                gradS[g + peak] = dz
                guard compactness > 0 else { continue }
                // Softmax over positions, the expected squared distance to the peak, and its gradient.
                let (pr, pc) = (peak / columns, peak % columns)
                var sum: Float = 0
                for p in 0..<positions {
                    q[p] = expf(row[row.startIndex + p] - top)
                    sum += q[p]
                }
                var expected: Float = 0
                for p in 0..<positions {
                    q[p] /= sum
                    expected += q[p] * Self.distance(p, pr, pc, rows: rows, columns: columns)
                }
                value.compactness += Double(expected)
                let w = compactness * scale
                for p in 0..<positions {
                    gradS[g + p] += w * q[p] * (Self.distance(p, pr, pc, rows: rows, columns: columns) - expected)
                }
            }
            // ∂L/∂P += ∂L/∂S · F̃ᵀ ([A, P] by [P, C]).
            gradS.withUnsafeBufferPointer { gs in
                f.withUnsafeBufferPointer { x in
                    value.prototypes.withUnsafeMutableBufferPointer { o in
                        BLAS.sgemm(transB: true, m: a, n: c, k: positions, a: gs.baseAddress!, lda: positions,
                                   b: x.baseAddress!, ldb: positions, beta: 1, c: o.baseAddress!, ldc: c)
                    }
                }
            }
            // ∂L/∂F̃ = Pᵀ · ∂L/∂S ([C, A] by [A, P]).
            if featureGradients {
                var df = [Float](repeating: 0, count: c * positions)
                head.prototypes.withUnsafeBufferPointer { w in
                    gradS.withUnsafeBufferPointer { gs in
                        df.withUnsafeMutableBufferPointer { o in
                            BLAS.sgemm(transA: true, m: c, n: positions, k: a, a: w.baseAddress!, lda: c,
                                       b: gs.baseAddress!, ldb: positions, c: o.baseAddress!, ldc: positions)
                        }
                    }
                }
                value.features.append(df)
            }
        }
        value.attribute *= Double(scale)
        value.compactness *= Double(scale)
        if decorrelation > 0 {
            for group in groups {
                for ch in 0..<c {
                    var sq: Float = 0
                    for k in group { sq += head.prototypes[k * c + ch] * head.prototypes[k * c + ch] }
                    let norm = (sq + Self.epsilon).squareRoot()
                    value.decorrelation += Double(norm)
                    for k in group { value.prototypes[k * c + ch] += decorrelation * head.prototypes[k * c + ch] / norm }
                }
            }
        }
        value.total = value.attribute + Double(decorrelation) * value.decorrelation + Double(compactness) * value.compactness
        return value
    }

    /// Keeps the L2,1 norm differentiable at a group's zero column.
    static let epsilon: Float = 1e-8

    /// D(p): the squared distance of position p to the peak (pr, pc), in map sides.
    @inline(__always)
    static func distance(_ p: Int, _ pr: Int, _ pc: Int, rows: Int, columns: Int) -> Float {
        let dr = Float(p / columns - pr) / Float(rows), dc = Float(p % columns - pc) / Float(columns)
        return dr * dr + dc * dc
    }
}
