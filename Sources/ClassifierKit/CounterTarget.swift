import Foundation
import HDF5Store
import PipelineKit

/// The counter-class a targeted (counterfactual) attack steers each image to
/// (`attack --target`, docs/explain.md): the class nearest to or farthest from the true class
/// in class-attribute space (the follow-up's close and completely different counter-classes),
/// one named class, or a uniformly drawn other class.
public enum CounterTarget: Equatable, Sendable, CustomStringConvertible {
    case nearest
    case farthest
    case random
    /// A class by its index in `class_names`.
    case named(String)

    /// Parses `nearest`, `farthest`, `random` or `class:<name>` (the name is checked against
    /// the classes by `classes(…)`, once they are known).
    public init?(_ text: String) {
        switch text {
        case "nearest": self = .nearest
        case "farthest": self = .farthest
        case "random": self = .random
        default:
            guard text.hasPrefix("class:"), text.count > 6 else { return nil }
            self = .named(String(text.dropFirst(6)))
        }
    }

    /// The option's text, and the file-name tag (`nearest`, `farthest`, `random`, `class-<name>`).
    public var description: String {
        if case .named(let name) = self { return "class:\(name)" }
        return fileTag
    }
    public var fileTag: String {
        switch self {
        case .nearest: return "nearest"
        case .farthest: return "farthest"
        case .random: return "random"
        case .named(let name): return "class-\(name)"
        }
    }

    /// The counter-class of each image (`labels`, `rows` its rows in images.h5), or −1 where
    /// a named class is the image's own (the image is skipped, not attacked). Nearest and
    /// farthest are by Euclidean distance between the L2-normalised rows of `classAttributes`
    /// [C, A] (φ as the SJE uses it), ties to the lower class index; random draws from the
    /// stream (seed, counterTarget, row), so a row's target does not depend on the batch.
    /// Throws a usage error naming the classes when a named class does not exist.
    public func classes(labels: [Int], rows: [Int], classAttributes: [Float], classNames: [String], seed: UInt64) throws -> [Int] {
        let c = classNames.count
        switch self {
        case .named(let name):
            guard let k = classNames.firstIndex(of: name) else {
                throw CounterTargetError.unknownClass(name, classNames)
            }
            return labels.map { $0 == k ? -1 : k }
        case .random:
            return zip(labels, rows).map { label, row in
                var rng = SampleRandom.generator(seed: seed, .counterTarget, row)
                let draw = min(c - 2, Int(Double(rng.next() >> 11) * 0x1p-53 * Double(c - 1)))
                return draw >= label ? draw + 1 : draw
            }
        case .nearest, .farthest:
            let distances = Self.classDistances(classAttributes, classes: c)
            return labels.map { y in
                var best = -1
                for k in 0..<c where k != y {
                    let d = distances[y * c + k]
                    if best < 0 || (self == .nearest ? d < distances[y * c + best] : d > distances[y * c + best]) { best = k }
                }
                return best
            }
        }
    }

    /// Euclidean distances [C, C] between the L2-normalised rows of `phi` [C, A].
    public static func classDistances(_ phi: [Float], classes c: Int) -> [Double] {
        let a = phi.count / max(c, 1)
        let rows: [[Double]] = (0..<c).map { k in
            let row = phi[(k * a)..<((k + 1) * a)].map(Double.init)
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? row.map { $0 / norm } : row
        }
        var d = [Double](repeating: 0, count: c * c)
        for i in 0..<c {
            for j in 0..<c { d[i * c + j] = zip(rows[i], rows[j]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() }
        }
        return d
    }
}

/// A `--target` that cannot be used with the data.
public enum CounterTargetError: Error, CustomStringConvertible {
    case unknownClass(String, [String])

    public var description: String {
        switch self {
        case .unknownClass(let name, let classes):
            return "--target class:\(name): no class '\(name)'; the classes are \(classes.joined(separator: ", "))"
        }
    }
}

extension ImageSet {
    /// `class_attributes` float32 [C, A] (φ, in [0, 1]).
    public func classAttributes() throws -> [Float] {
        let values = try file.read("class_attributes", as: Float.self)
        guard values.shape.count == 2, values.shape[0] == classCount else {
            throw H5Error(file: path, object: "/class_attributes",
                          message: "expected float32 [\(classCount), A], found shape \(values.shape)")
        }
        try NumberCheck.requireFinite(values.data, rowWidth: values.shape[1], firstRow: 0, file: path, object: "/class_attributes")
        return values.data
    }
}
