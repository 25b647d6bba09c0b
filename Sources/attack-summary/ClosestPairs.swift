import Foundation
import HDF5Store
import PipelineKit

/// One (true, wrong) class pair of a minimal-norm attack: how close the classes are (the median
/// smallest perturbation that moved an image of the true class to the wrong one), the
/// attributes that separate them (largest |φ(true) − φ(wrong)|, with the sign: + = the true
/// class has more of it) and, given predicted attributes, the attributes that moved (largest
/// |mean Â − A| over the pair's images, + = the attack raised it).
struct ClassPair {
    let trueClass: String
    let wrongClass: String
    let images: Int
    let medianNorm: Float
    let separating: [(name: String, difference: Float)]
    /// Empty without predicted attributes; `towardWrong`: the change has the sign of φ̂(wrong) − φ̂(true)
    /// there; `difference`: φ(true) − φ(wrong) of that attribute (how much it separates the classes).
    let moved: [(name: String, change: Float, towardWrong: Bool, difference: Float)]
    /// Cosine between the mean change Â − A and φ̂(wrong) − φ̂(true) (rows L2-normalised, the
    /// space the predicted attributes live in): 1 = the attributes moved straight to the wrong
    /// class's profile. NaN without predicted attributes.
    let towardWrong: Float

    var json: [String: Any] {
        var json: [String: Any] = [
            "true_class": trueClass, "wrong_class": wrongClass, "images": images, "median_minimal_norm": Double(medianNorm),
            "separating_attributes": separating.map { ["attribute": $0.name, "difference": Double($0.difference)] }]
        if !moved.isEmpty {
            json["moved_attributes"] = moved.map { ["attribute": $0.name, "change": Double($0.change), "toward_wrong": $0.towardWrong,
                                               "class_difference": Double($0.difference)] }
            json["toward_wrong_class"] = Double(towardWrong)
        }
        return json
    }

    var line: String {
        var text = "\(trueClass) → \(wrongClass): \(String(format: "%.4f", medianNorm)) over \(images) image\(images == 1 ? "" : "s"); "
            + "separate: " + separating.map { "\($0.name) \(String(format: "%+.2f", $0.difference))" }.joined(separator: ", ")
        if !moved.isEmpty {
            text += "; moved: " + moved.map { "\($0.name) \(String(format: "%+.3f", $0.change))\($0.towardWrong ? "*" : "") (φ \(String(format: "%+.2f", $0.difference)))" }.joined(separator: ", ")
                + String(format: " (toward the wrong class: cos %.2f)", towardWrong)
        }
        return text
    }
}

/// Predicted attributes of a model on some images (predict-attributes' file): rows by image index.
struct PredictedAttributes {
    let path: String
    let index: [Int64]
    let count: Int
    /// [N][A], L2-normalised by predict-attributes.
    let rows: [[Float]]

    init(_ path: String, attributes: Int) throws {
        let file = try H5File.open(path, mode: .readOnly)
        defer { file.close() }
        self.path = path
        index = try file.read("index", as: Int64.self).data
        let matrix = try file.read("attributes", as: Float.self, expectingShape: [index.count, nil]).data
        guard index.isEmpty || matrix.count == index.count * attributes else {
            throw StageError("\(path): /attributes has \(matrix.count / max(index.count, 1)) attributes per image, expected \(attributes) "
                             + "(the attribute_names of --images)")
        }
        count = attributes
        rows = (0..<index.count).map { Array(matrix[($0 * attributes)..<(($0 + 1) * attributes)]) }
    }

    /// Rows for these image indices, in their order; an index the file lacks is an error naming it.
    func rows(for indices: [Int64]) throws -> [[Float]] {
        var position: [Int64: Int] = [:]
        for (row, i) in index.enumerated() { position[i] = row }
        return try indices.map { i in
            guard let row = position[i] else { throw StageError("\(path): no predicted attributes for image \(i) (row of images.h5)") }
            return rows[row]
        }
    }
}

/// Class names and class-attribute vectors of an images.h5.
struct ClassProfiles {
    let names: [String]
    let attributeNames: [String]
    /// φ, [C][A].
    let attributes: [[Float]]

    init(_ path: String) throws {
        let file = try H5File.open(path, mode: .readOnly)
        defer { file.close() }
        let names = try file.readStrings("class_names")
        let attributeNames = try file.readStrings("attribute_names")
        let a = attributeNames.count
        let matrix = try file.read("class_attributes", as: Float.self, expectingShape: [names.count, a]).data
        self.names = names
        self.attributeNames = attributeNames
        attributes = (0..<names.count).map { Array(matrix[($0 * a)..<(($0 + 1) * a)]) }
    }

    /// The `count` pairs with the smallest median minimal norm over the images the attack moved
    /// to another class within its budget (only those rows record the class reached). With the
    /// model's predicted attributes on the adversarial images (rows as in `o`) and on the clean
    /// images, each pair also lists the attributes that moved.
    /// Pairs with fewer than `minImages` images are left out: one image's norm says little about two classes.
    func closestPairs(_ o: AttackOutcome, count: Int, minImages: Int = 1, adversarial: [[Float]]? = nil, clean: [[Float]]? = nil) -> [ClassPair] {
        var rows: [[Int32]: [Int]] = [:]
        for i in o.labels.indices where o.adversarial[i] != o.labels[i] && o.clean[i] == o.labels[i] && o.minimalNorm[i].isFinite {
            rows[[o.labels[i], o.adversarial[i]], default: []].append(i)
        }
        let pairs = rows.filter { $0.value.count >= minImages }.map { key, members -> ClassPair in
            let sorted = members.map { o.minimalNorm[$0] }.sorted()
            let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            let (t, w) = (Int(key[0]), Int(key[1]))
            let differences = attributeNames.indices.map { (attributeNames[$0], attributes[t][$0] - attributes[w][$0]) }
            var moved: [(name: String, change: Float, towardWrong: Bool, difference: Float)] = []
            var toward = Float.nan
            if let adversarial, let clean {
                var change = [Float](repeating: 0, count: attributeNames.count)
                for i in members { for a in change.indices { change[a] += (adversarial[i][a] - clean[i][a]) / Float(members.count) } }
                let direction = zip(normalised(attributes[w]), normalised(attributes[t])).map { $0 - $1 }
                let position = Dictionary(uniqueKeysWithValues: attributeNames.enumerated().map { ($1, $0) })
                moved = largest(zip(attributeNames, change).map { ($0, $1) }).map { entry in
                    let k = position[entry.name]!
                    return (name: entry.name, change: entry.change, towardWrong: entry.change * direction[k] > 0,
                            difference: attributes[t][k] - attributes[w][k])
                }
                toward = cosine(change, direction)
            }
            return ClassPair(trueClass: names[t], wrongClass: names[w], images: members.count, medianNorm: median,
                             separating: largest(differences).map { (name: $0.0, difference: $0.1) }, moved: moved, towardWrong: toward)
        }
        return Array(pairs.sorted { ($0.medianNorm, $0.trueClass, $0.wrongClass) < ($1.medianNorm, $1.trueClass, $1.wrongClass) }
            .prefix(count))
    }

    /// The three entries of largest magnitude (ties by name).
    private func largest(_ values: [(String, Float)]) -> [(name: String, change: Float)] {
        values.sorted { abs($0.1) > abs($1.1) || (abs($0.1) == abs($1.1) && $0.0 < $1.0) }.prefix(3).map { (name: $0.0, change: $0.1) }
    }
}

private func normalised(_ v: [Float]) -> [Float] {
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? v.map { $0 / norm } : v
}

private func cosine(_ a: [Float], _ b: [Float]) -> Float {
    let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
    let norms = a.reduce(0) { $0 + $1 * $1 }.squareRoot() * b.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return norms > 0 ? dot / norms : .nan
}
