import ArgumentParser
import Foundation

/// An L∞ attack budget in [0, 1] pixel units (docs/design.md § Semantics), together with the
/// text it was written as. The text is the file-name form: the Makefile names artifacts by
/// eps exactly as written in `EPSILONS` (`adv/standard-eps0.01.h5`), so `0.01` and `0.010`
/// are the same budget but different files, and the text — not the number — is kept for names.
public struct Epsilon: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByArgument {
    /// The budget in [0, 1] pixel units.
    public let value: Float
    /// The budget as written (`0.01`): what file names and metrics groups use.
    public let text: String

    /// Parses a budget: a decimal number in [0, 1]. Nil otherwise.
    public init?(_ text: String) {
        guard !text.isEmpty, text.allSatisfy({ $0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "-" || $0 == "+" }),
              let value = Float(text), value.isFinite, (0...1).contains(value) else { return nil }
        self.value = value
        self.text = text
    }

    /// A budget from a number, written as a short decimal (`0.01`, six decimals at most); for
    /// budgets read back from a file's attribute, whose text is not kept.
    public init(value: Float) {
        precondition(value.isFinite && (0...1).contains(value), "eps must be in [0, 1], got \(value)")
        self.value = value
        self.text = Self.trimmed(Double(value), decimals: 6)
    }

    public init?(argument: String) { self.init(argument) }

    /// Parses an option's value, or throws the usage error that says what a budget is (for
    /// `@Option(transform: Epsilon.parse)`, so the user reads why the value was refused).
    public static func parse(_ text: String) throws -> Epsilon {
        guard let eps = Epsilon(text) else { throw ValidationError("eps must be in [0, 1] (pixel units), got \(text)") }
        return eps
    }

    /// What a person reads: both units, `0.01 (2.55/255)`.
    public var description: String { "\(text) (\(Self.trimmed(Double(value) * 255, decimals: 2))/255)" }

    /// The name part of files and groups made for this budget: `eps0.01`.
    public var fileTag: String { "eps\(text)" }

    /// Ordered by value; equal values written differently are ordered by text.
    public static func < (a: Epsilon, b: Epsilon) -> Bool { (a.value, a.text) < (b.value, b.text) }

    /// Up to `decimals` decimals without trailing zeros: 2.55, 15.3, 3.
    public static func trimmed(_ x: Double, decimals: Int) -> String {
        var text = String(format: "%.\(decimals)f", x)
        guard text.contains(".") else { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// An attack budget: an L∞ eps (`Epsilon`, pixels in [0, 1]) or an L2 norm of the
/// perturbation (‖x_adv − x‖₂ with pixels in [0, 1]; any finite value ≥ 0), with the text it
/// was written as, which names its files: `eps<e>` and `l2eps<e>`.
public struct AttackBudget: Hashable, Sendable, CustomStringConvertible {
    public enum Norm: String, Sendable { case linf, l2 }

    public let norm: Norm
    public let value: Float
    public let text: String

    public init(_ eps: Epsilon) {
        norm = .linf
        value = eps.value
        text = eps.text
    }

    /// Parses an L2 budget (an option's value), or throws the usage error that says what one is.
    public static func parseL2(_ text: String) throws -> AttackBudget {
        guard !text.isEmpty, text.allSatisfy({ $0.isNumber || ".eE+-".contains($0) }),
              let value = Float(text), value.isFinite, value >= 0 else {
            throw ValidationError("an L2 budget must be a finite number ≥ 0, got \(text)")
        }
        return AttackBudget(norm: .l2, value: value, text: text)
    }

    private init(norm: Norm, value: Float, text: String) {
        self.norm = norm
        self.value = value
        self.text = text
    }

    /// The name part of its files: `eps0.01`, `l2eps0.5`.
    public var fileTag: String { norm == .l2 ? "l2eps\(text)" : "eps\(text)" }

    /// What a person reads: `eps 0.01 (2.55/255)`, `L2 eps 0.5`.
    public var description: String { norm == .l2 ? "L2 eps \(text)" : "eps \(Epsilon(text).map(\.description) ?? text)" }
}
