import Foundation
import HDF5Store
import ImageIO

/// Reads the Large-scale Attribute Dataset's annotation files.
public enum LADImporter {
    /// Splits a LAD line "id, field, field" at commas outside brackets.
    static func commaFields(_ line: TextLine) -> [String] {
        var out: [String] = []
        var current = ""
        var depth = 0
        for ch in line.text {
            if ch == "[" { depth += 1 }
            if ch == "]" { depth -= 1 }
            if ch == "," && depth == 0 {
                out.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(ch)
            }
        }
        out.append(current.trimmingCharacters(in: .whitespaces))
        return out
    }

    /// Numbers inside "[ … ]", separated by spaces and/or commas.
    static func bracketNumbers(_ text: String, _ line: TextLine, what: String) throws(DatasetError) -> [Double] {
        guard text.hasPrefix("["), text.hasSuffix("]") else { throw line.error("\(what) must be in [ … ]") }
        var out: [Double] = []
        for f in text.dropFirst().dropLast().split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
            out.append(try line.double(f, what))
        }
        return out
    }

    /// Parses `label_list.txt`, `attribute_list.txt`, `attributes_per_class.txt`,
    /// `images.txt` ("id, Label_X_NN, [x1, y1, x2, y2], images/…jpg"; the box is read as
    /// corners, LAD's README not saying otherwise) and `split_supervisedlearning.txt`
    /// (train+val then test ids). A seeded `valFraction` of each class's train+val images
    /// becomes val. Images in neither split are left out and counted (`unsplit_images`).
    /// Attribute names are "Attr_X_NNN::english name" (LAD's English names repeat across
    /// super-classes); class names are the English label names.
    public static func plan(root: String, valFraction: Double, seed: UInt64) throws(DatasetError) -> ImportPlan {
        func file(_ name: String) -> String { root + "/" + name }
        var labelIndex: [String: Int] = [:]
        var classNames: [String] = []
        for line in try readLines(file("label_list.txt"), what: "label list") {
            let f = commaFields(line)
            guard f.count >= 2, !f[0].isEmpty, !f[1].isEmpty else { throw line.error("expected 'Label_X_NN, english, chinese'") }
            guard labelIndex[f[0]] == nil else { throw line.error("label \(f[0]) listed twice") }
            guard !classNames.contains(f[1]) else { throw line.error("label name '\(f[1])' is used by another label; names must differ") }
            labelIndex[f[0]] = classNames.count
            classNames.append(f[1])
        }
        var attributeNames: [String] = []
        for line in try readLines(file("attribute_list.txt"), what: "attribute list") {
            let f = commaFields(line)
            guard f.count >= 2, !f[0].isEmpty, !f[1].isEmpty else { throw line.error("expected 'Attr_X_NNN, english, chinese'") }
            guard !attributeNames.contains("\(f[0])::\(f[1])") else { throw line.error("attribute \(f[0]) listed twice") }
            attributeNames.append("\(f[0])::\(f[1])")
        }
        guard !classNames.isEmpty else { throw .invalid(path: file("label_list.txt"), reason: "no labels") }
        guard !attributeNames.isEmpty else { throw .invalid(path: file("attribute_list.txt"), reason: "no attributes") }

        let perClassPath = file("attributes_per_class.txt")
        var classAttributes = [Float](repeating: 0, count: classNames.count * attributeNames.count)
        var seenClass = [Bool](repeating: false, count: classNames.count)
        for line in try readLines(perClassPath, what: "class attributes") {
            let f = commaFields(line)
            guard f.count == 2 else { throw line.error("expected 'Label_X_NN, [ values ]'") }
            guard let c = labelIndex[f[0]] else { throw line.error("label \(f[0]) is not in label_list.txt") }
            let values = try bracketNumbers(f[1], line, what: "attribute value")
            guard values.count == attributeNames.count else {
                throw line.error("expected \(attributeNames.count) values, found \(values.count)")
            }
            guard values.allSatisfy({ (0...1).contains($0) }) else { throw line.error("values must lie in [0, 1]") }
            seenClass[c] = true
            for (j, v) in values.enumerated() { classAttributes[c * attributeNames.count + j] = Float(v) }
        }
        if let missing = seenClass.firstIndex(of: false) {
            throw .invalid(path: perClassPath, reason: "no row for label \(classNames[missing])")
        }

        // The supervised split: "train+val:" then ids, "test:" then ids.
        var splitOf: [String: Split] = [:]
        var current: Split?
        for line in try readLines(file("split_supervisedlearning.txt"), what: "supervised split") {
            let t = line.text.trimmingCharacters(in: .whitespaces)
            if t == "train+val:" { current = .train; continue }
            if t == "test:" { current = .test; continue }
            guard let s = current else { throw line.error("image id before the 'train+val:' or 'test:' marker") }
            guard t.allSatisfy(\.isNumber) else { throw line.error("'\(t)' is not an image id") }
            splitOf[t] = s
        }

        var items: [ImportItem] = []
        var labels: [Int] = []
        var unsplit = 0
        let imagesPath = file("images.txt")
        for line in try readLines(imagesPath, what: "image list") {
            let f = commaFields(line)
            guard f.count == 4 else { throw line.error("expected 4 comma-separated fields (id, label, [box], path), found \(f.count)") }
            guard let label = labelIndex[f[1]] else { throw line.error("label \(f[1]) is not in label_list.txt") }
            let b = try bracketNumbers(f[2], line, what: "box coordinate")
            guard b.count == 4, b[2] >= b[0], b[3] >= b[1] else { throw line.error("box must be [x1, y1, x2, y2] with x2 ≥ x1, y2 ≥ y1") }
            guard let split = splitOf[f[0]] else { unsplit += 1; continue }
            items.append(ImportItem(path: file(f[3]), listedAs: f[3], label: label, split: split,
                                    box: Box(x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1]),
                                    citedAt: "\(imagesPath):\(line.number)"))
            labels.append(label)
        }
        var perClass = [Int](repeating: 0, count: classNames.count)
        for l in labels { perClass[l] += 1 }
        if let empty = perClass.firstIndex(of: 0) {
            throw .invalid(path: imagesPath, reason: "label \(labelIndex.first { $0.value == empty }!.key) (\(classNames[empty])) has no images in either split")
        }
        var splits = items.map(\.split)
        SplitAssignment.carveValidation(&splits, labels: labels, fraction: valFraction, seed: seed)
        for i in items.indices { items[i].split = splits[i] }
        return ImportPlan(classNames: classNames, attributeNames: attributeNames, classAttributes: classAttributes,
                          partNames: nil, hasBoxes: true, items: items,
                          annotationFiles: ["label_list.txt", "attribute_list.txt", "attributes_per_class.txt",
                                            "split_supervisedlearning.txt", "images.txt"].map(file),
                          notes: ["unsplit_images": .int(Int64(unsplit)), "val_fraction_of_train": .double(valFraction)])
    }
}
