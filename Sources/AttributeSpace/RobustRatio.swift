/// The robust ratio of paper eqs. 9–11, for one classifier at one eps.
///
/// L_R = acc(f, clean) − acc(fʳ, adv): accuracy lost by the robust model on adversarial
/// images, measured from the standard model's clean accuracy; L_S = acc(f, clean) −
/// acc(f, adv): accuracy lost by the standard model; R = L_R / L_S. The paper calls R
/// "the fraction recovered", but R is the fraction of the loss that remains; the fraction
/// recovered is 1 − R. Both are reported, named for what they are.
public struct RobustRatio: Equatable, Sendable {
    public let standardClean: Double
    public let standardAdversarial: Double
    public let robustAdversarial: Double

    public init(standardClean: Double, standardAdversarial: Double, robustAdversarial: Double) {
        self.standardClean = standardClean
        self.standardAdversarial = standardAdversarial
        self.robustAdversarial = robustAdversarial
    }

    /// L_R (eq. 9).
    public var robustLoss: Double { standardClean - robustAdversarial }
    /// L_S (eq. 10).
    public var standardLoss: Double { standardClean - standardAdversarial }
    /// R = L_R / L_S (eq. 11): the fraction of the standard model's adversarial accuracy loss
    /// that remains with the robust model. NaN when the attack cost nothing (L_S = 0).
    public var ratio: Double { standardLoss != 0 ? robustLoss / standardLoss : .nan }
    /// 1 − R: the fraction of the lost accuracy that the robust model recovers.
    public var recoveredFraction: Double { 1 - ratio }
}

/// Fraction of `predictions` equal to `labels` (0 for none).
public func accuracy(_ predictions: [Int32], _ labels: [Int32]) -> Double {
    guard !labels.isEmpty else { return 0 }
    return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
}
