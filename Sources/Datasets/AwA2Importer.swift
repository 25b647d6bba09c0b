import Foundation
import HDF5Store
import Randomness

/// Reads an Animals with Attributes 2 tree.
public enum AwA2Importer {
    /// The paper's AwA2 split sizes (train, val, test): the default split proportions.
    public static let paperSplitSizes = [22206, 5599, 9517]

    /// Parses `classes.txt`, `predicates.txt`, `predicate-matrix-continuous.txt` and lists
    /// `JPEGImages/<class>/*.jpg` (sorted by name). Every class needs at least one image.
    /// AwA2 has no official image split: each class's images are split by a seeded
    /// stratified shuffle with fractions `train` and `val` (test gets the rest).
    /// Continuous values are percentages / 100; missing cells (−1; class 1 has four) are
    /// replaced by the attribute's mean over the classes that have it, and listed in the
    /// `imputed_cells` attribute as "class::attribute".
    public static func plan(root: String, train: Double, val: Double, seed: UInt64) throws(DatasetError) -> ImportPlan {
        func file(_ name: String) -> String { root + "/" + name }
        let classes = try readNumberedNames(file("classes.txt"), what: "class names")
        let predicates = try readNumberedNames(file("predicates.txt"), what: "attribute (predicate) names")
        let matrixPath = file("predicate-matrix-continuous.txt")
        var matrix = try readMatrix(matrixPath, rows: classes.count, columns: predicates.count, what: "continuous predicate matrix")
        let a = predicates.count
        var imputed: [String] = []
        for j in 0..<a {
            let known = (0..<classes.count).map { matrix[$0 * a + j] }.filter { $0 >= 0 }
            for i in 0..<classes.count {
                let v = matrix[i * a + j]
                if v == -1 {
                    guard !known.isEmpty else {
                        throw .invalid(path: matrixPath, reason: "attribute \(predicates[j]) is missing (-1) for every class")
                    }
                    matrix[i * a + j] = known.reduce(0, +) / Double(known.count)
                    imputed.append("\(classes[i])::\(predicates[j])")
                } else if !(0...100).contains(v) {
                    throw .malformed(path: matrixPath, line: i + 1, reason: "value \(v) is neither a percentage nor -1 (missing)")
                }
            }
        }

        var items: [ImportItem] = []
        let fm = FileManager.default
        let classLines = try readLines(file("classes.txt"), what: "class names")
        for (label, name) in classes.enumerated() {
            let directory = file("JPEGImages/" + name)
            let listing = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
            let images = listing.filter { $0.lowercased().hasSuffix(".jpg") || $0.lowercased().hasSuffix(".jpeg") || $0.lowercased().hasSuffix(".png") }.sorted()
            guard !images.isEmpty else {
                throw .malformed(path: file("classes.txt"), line: classLines[label].number,
                                 reason: "class \(name) has no images in \(directory)")
            }
            var rng = SplitMix(seed: seed, stream: RandomStreams.awa2Splits(label: label))
            let splits = SplitAssignment.stratified(count: images.count, train: train, val: val, rng: &rng)
            for (image, split) in zip(images, splits) {
                let relative = "JPEGImages/\(name)/\(image)"
                items.append(ImportItem(path: file(relative), listedAs: relative, label: label, split: split))
            }
        }
        return ImportPlan(classNames: classes, attributeNames: predicates, classAttributes: matrix.map { Float($0 / 100) },
                          partNames: nil, hasBoxes: false, items: items,
                          annotationFiles: [file("classes.txt"), file("predicates.txt"), matrixPath],
                          notes: ["imputed_cells": .string(imputed.joined(separator: ", ")),
                                  "split_fractions": .doubles([train, val, max(0, 1 - train - val)])])
    }
}
