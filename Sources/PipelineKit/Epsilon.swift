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
    static func trimmed(_ x: Double, decimals: Int) -> String {
        var text = String(format: "%.\(decimals)f", x)
        guard text.contains(".") else { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
