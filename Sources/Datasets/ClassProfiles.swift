import Foundation
import Randomness

/// A synthetic class: for every rendered group, the distribution its images draw the
/// group's value from.
public struct ClassProfile: Equatable, Sendable {
    public var name: String
    /// `weights[g.rawValue][v]`: probability of value v of group g (each row sums to 1).
    public var weights: [[Double]]

    /// Draws one bird's attribute values.
    public func sample(_ rng: inout SplitMix) -> BirdAttributes {
        BirdAttributes(values: weights.map { rng.categorical($0) })
    }
}

/// The class profiles of the two embedded synthetic datasets.
public enum ClassProfiles {
    /// `synth-fine`: classes taken from CUB-200-2011's class-attribute matrix, `count`
    /// classes spread evenly over CUB's 200 (001, 005, 009, … for 50). Each rendered group's
    /// distribution is that class's row restricted to the group's rendered values,
    /// renormalised, and raised to `sharpness` (then renormalised again): CUB's per-class
    /// percentages are flattened by annotator noise, and 1 keeps them as they are. A group
    /// whose values the class never shows falls back to the group's mean over all 200 classes.
    ///
    /// - Parameter directory: a folder holding CUB's `attributes.txt`, `classes.txt` and
    ///   `class_attribute_labels_continuous.txt` (the project ships them in data/attributes/cub).
    public static func fine(cubDirectory directory: String, count: Int, sharpness: Double = 2) throws(DatasetError) -> [ClassProfile] {
        let names = try readNumberedNames(directory + "/attributes.txt", what: "CUB attribute names")
        let classes = try readNumberedNames(directory + "/classes.txt", what: "CUB class names")
        let matrix = try readMatrix(directory + "/class_attribute_labels_continuous.txt", rows: classes.count,
                                    columns: names.count, what: "CUB class-attribute percentages")
        guard (1...classes.count).contains(count) else {
            throw .usage("synth-fine: --classes must be in 1...\(classes.count), got \(count)")
        }
        let column = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var columns: [[Int]] = []
        for g in BirdGroup.allCases {
            var indices: [Int] = []
            for attribute in g.group.attributeNames {
                guard let c = column[attribute] else {
                    throw .invalid(path: directory + "/attributes.txt", reason: "no attribute named \(attribute)")
                }
                indices.append(c)
            }
            columns.append(indices)
        }
        func normalised(_ w: [Double]) -> [Double]? {
            let total = w.reduce(0, +)
            return total > 0 ? w.map { $0 / total } : nil
        }
        let fallback: [[Double]] = columns.map { cols in
            normalised(cols.map { c in (0..<classes.count).reduce(0.0) { $0 + matrix[$1 * names.count + c] } })
                ?? [Double](repeating: 1 / Double(cols.count), count: cols.count)
        }
        return (0..<count).map { i in
            let row = i * classes.count / count
            let weights = columns.enumerated().map { g, cols -> [Double] in
                let raw = cols.map { max(0, matrix[row * names.count + $0]) }
                guard let p = normalised(raw) else { return fallback[g] }
                return normalised(p.map { pow($0, sharpness) }) ?? p
            }
            return ClassProfile(name: cubDisplayName(classes[row]), weights: weights)
        }
    }

    /// `synth-coarse`: ten hand-made species whose dominant values differ in most groups
    /// (colour scheme, bill, tail, size, patterns); each group shows its dominant value
    /// with probability `purity` and any other value otherwise, so a few images break type.
    public static func coarse(purity: Double = 0.85) -> [ClassProfile] {
        typealias C = BirdColor
        // name, upperparts, underparts, head, bill colour, legs, eye, bill, bill length, tail, size, breast/wing pattern
        let species: [(String, C, C, C, C, C, C, BillShape, BillLength, TailShape, BirdSize, PlumagePattern, PlumagePattern)] = [
            ("Crimson_Finch", .black, .red, .red, .grey, .brown, .black, .cone, .shorter, .notched, .small, .solid, .striped),
            ("Azure_Jay", .blue, .white, .blue, .black, .black, .brown, .allPurpose, .aboutTheSame, .rounded, .medium, .solid, .spotted),
            ("Golden_Warbler", .olive, .yellow, .yellow, .pink, .pink, .black, .needle, .shorter, .squared, .verySmall, .striped, .solid),
            ("Snowy_Gull", .grey, .white, .white, .yellow, .orange, .yellow, .hooked, .aboutTheSame, .squared, .large, .solid, .multiColored),
            ("Rufous_Thrush", .brown, .buff, .rufous, .brown, .pink, .brown, .dagger, .aboutTheSame, .pointed, .medium, .spotted, .solid),
            ("Emerald_Sunbird", .iridescent, .green, .iridescent, .black, .black, .red, .curved, .longer, .forked, .verySmall, .solid, .solid),
            ("Violet_Duck", .purple, .grey, .green, .orange, .orange, .brown, .spatulate, .aboutTheSame, .fanShaped, .veryLarge, .multiColored, .striped),
            ("Ember_Oriole", .black, .orange, .black, .grey, .grey, .white, .allPurpose, .shorter, .forked, .small, .solid, .multiColored),
            ("Pink_Ibis", .pink, .pink, .white, .red, .red, .grey, .curved, .longer, .rounded, .large, .striped, .spotted),
            ("Olive_Sparrow", .rufous, .grey, .olive, .buff, .yellow, .green, .cone, .shorter, .notched, .verySmall, .spotted, .striped),
        ]
        return species.map { s in
            let (name, upper, under, head, billColor, legs, eye, bill, billLength, tail, size, breastPattern, wingPattern) = s
            func dominant(_ g: BirdGroup) -> Int {
                let color: BirdColor? = switch g {
                case .backColor, .wingColor, .upperTailColor: upper
                case .breastColor, .bellyColor, .throatColor: under
                case .crownColor, .foreheadColor, .napeColor: head
                case .billColor: billColor
                case .legColor: legs
                case .eyeColor: eye
                default: nil
                }
                if let color { return g.group.values.firstIndex(of: color.name)! }
                return switch g {
                case .billShape: bill.rawValue
                case .billLength: billLength.rawValue
                case .tailShape: tail.rawValue
                case .size: size.rawValue
                case .breastPattern: breastPattern.rawValue
                case .wingPattern: wingPattern.rawValue
                default: fatalError("unhandled group \(g)")
                }
            }
            let weights = BirdGroup.allCases.map { g -> [Double] in
                let k = g.group.values.count
                var w = [Double](repeating: (1 - purity) / Double(k - 1), count: k)
                w[dominant(g)] = purity
                return w
            }
            return ClassProfile(name: name, weights: weights)
        }
    }
}

/// "001.Black_footed_Albatross" → "Black_footed_Albatross" (CUB's folder-style names).
func cubDisplayName(_ name: String) -> String {
    guard let dot = name.firstIndex(of: "."), name[..<dot].allSatisfy(\.isNumber) else { return name }
    return String(name[name.index(after: dot)...])
}
