import ArgumentParser

/// How predicted attribute vectors A = θ(x)W are stored (predict-attributes' choice), and
/// so how every stage that compares them with φ must read them (ground's eqs. 7–8).
public enum AttributeNormalisation: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// Each A scaled to unit L2 norm, as the authors did, so it is comparable with the
    /// L2-normalised class vectors φ(y). Class scores and predictions do not change.
    case l2
    /// A as it is.
    case none

    /// Applies the normalisation to `values`, rows of `attributes` values each.
    public func apply(to values: inout [Float], attributes: Int) {
        if self == .l2 { FeatureNormaliser(kind: .l2).apply(to: &values, dimension: attributes) }
    }
}
