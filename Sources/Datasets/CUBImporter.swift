import Foundation
import ImageIO

/// Reads the official CUB_200_2011 tree.
public enum CUBImporter {
    /// Parses every annotation file under `root` into a plan: the official train/test
    /// split with a seeded `valFraction` of each class's training images moved to val;
    /// class attributes = the continuous percentages / 100; parts, keypoints and boxes in
    /// the original pixels (mapped when the images are resized).
    public static func plan(root: String, valFraction: Double, seed: UInt64) throws(DatasetError) -> ImportPlan {
        func file(_ name: String) -> String { root + "/" + name }
        let classes = try readNumberedNames(file("classes.txt"), what: "class names")
        let attributes = try readNumberedNames(file("attributes.txt"), what: "attribute names")
        let parts = try readNumberedNames(file("parts/parts.txt"), what: "part names")
        let matrixPath = file("attributes/class_attribute_labels_continuous.txt")
        let matrix = try readMatrix(matrixPath, rows: classes.count, columns: attributes.count, what: "class attribute percentages")
        for (i, v) in matrix.enumerated() where !(0...100).contains(v) {
            throw .malformed(path: matrixPath, line: i / attributes.count + 1, reason: "percentage \(v) outside 0...100")
        }

        // images.txt: "id relative/path.jpg"; ids unique.
        var index: [Int: Int] = [:]
        var paths: [(String, TextLine)] = []
        for line in try readLines(file("images.txt"), what: "image list") {
            let f = try line.fields(count: 2)
            let id = try line.int(f[0], "image id")
            guard index[id] == nil else { throw line.error("image id \(id) listed twice") }
            index[id] = paths.count
            paths.append((String(f[1]), line))
        }
        guard !paths.isEmpty else { throw .invalid(path: file("images.txt"), reason: "no images listed") }
        let n = paths.count
        func imageIndex(_ line: TextLine, _ field: Substring) throws(DatasetError) -> Int {
            let id = try line.int(field, "image id")
            guard let i = index[id] else { throw line.error("image id \(id) is not in images.txt") }
            return i
        }
        /// Reads a per-image file, requiring exactly one line per image.
        func perImage(_ name: String, columns: Int, what: String, _ body: (Int, [Substring], TextLine) throws(DatasetError) -> Void) throws(DatasetError) {
            var seen = [Bool](repeating: false, count: n)
            for line in try readLines(file(name), what: what) {
                let f = try line.fields(count: columns)
                let i = try imageIndex(line, f[0])
                guard !seen[i] else { throw line.error("image id \(f[0]) listed twice") }
                seen[i] = true
                try body(i, f, line)
            }
            if let missing = seen.firstIndex(of: false) {
                throw .invalid(path: file(name), reason: "no line for image \(paths[missing].0) (images.txt:\(paths[missing].1.number))")
            }
        }
        var labels = [Int](repeating: 0, count: n)
        try perImage("image_class_labels.txt", columns: 2, what: "image labels") { i, f, line throws(DatasetError) in
            labels[i] = try line.id(f[1], "class id", count: classes.count) - 1
        }
        var splits = [Split](repeating: .train, count: n)
        try perImage("train_test_split.txt", columns: 2, what: "official train/test split") { i, f, line throws(DatasetError) in
            switch f[1] {
            case "1": splits[i] = .train
            case "0": splits[i] = .test
            default: throw line.error("is_training_image must be 0 or 1, found '\(f[1])'")
            }
        }
        var boxes = [Box](repeating: Box(x: 0, y: 0, width: 0, height: 0), count: n)
        try perImage("bounding_boxes.txt", columns: 5, what: "bounding boxes") { i, f, line throws(DatasetError) in
            let v = try f[1...].map { field throws(DatasetError) in try line.double(field, "box value") }
            guard v[2] >= 0 && v[3] >= 0 else { throw line.error("negative box size") }
            boxes[i] = Box(x: v[0], y: v[1], width: v[2], height: v[3])
        }
        var keypoints = [[Keypoint]](repeating: [Keypoint](repeating: .invisible, count: parts.count), count: n)
        let partLocs = file("parts/part_locs.txt")
        var partSeen = Set<Int>()
        for line in try readLines(partLocs, what: "part locations") {
            let f = try line.fields(count: 5)
            let i = try imageIndex(line, f[0])
            let p = try line.id(f[1], "part id", count: parts.count) - 1
            let x = try line.double(f[2], "x"), y = try line.double(f[3], "y")
            let visible: Bool
            switch f[4] {
            case "1": visible = true
            case "0": visible = false
            default: throw line.error("visible must be 0 or 1, found '\(f[4])'")
            }
            guard partSeen.insert(i * parts.count + p).inserted else { throw line.error("part \(p + 1) of image \(f[0]) listed twice") }
            keypoints[i][p] = visible ? Keypoint(x: x, y: y, visible: true) : .invisible
        }

        // Per-image attributes (attributes/image_attribute_labels.txt, when the tree has it):
        // "image_id attribute_id is_present certainty_id time", one line per image and
        // attribute. The real file has a few lines with an extra field; only the first four count.
        let labelsPath = file("attributes/image_attribute_labels.txt")
        var imageAttributes: [[Float]]?, certainty: [[UInt8]]?
        if FileManager.default.fileExists(atPath: labelsPath) {
            let a = attributes.count
            var present = [[Float]](repeating: [Float](repeating: 0, count: a), count: n)
            var sure = [[UInt8]](repeating: [UInt8](repeating: 0, count: a), count: n)
            var seen = [Bool](repeating: false, count: n * a)
            for line in try readLines(labelsPath, what: "per-image attribute labels") {
                let f = line.fields
                guard f.count >= 4 else { throw line.error("expected 'image_id attribute_id is_present certainty_id [time]', found \(f.count) fields") }
                let i = try imageIndex(line, f[0])
                let k = try line.id(f[1], "attribute id", count: a) - 1
                guard !seen[i * a + k] else { throw line.error("attribute \(k + 1) of image \(f[0]) listed twice") }
                seen[i * a + k] = true
                switch f[2] {
                case "1": present[i][k] = 1
                case "0": present[i][k] = 0
                default: throw line.error("is_present must be 0 or 1, found '\(f[2])'")
                }
                let c = try line.id(f[3], "certainty id", count: 4)
                sure[i][k] = UInt8(c)
            }
            if let missing = seen.firstIndex(of: false) {
                throw .invalid(path: labelsPath, reason: "no line for attribute \(missing % a + 1) of image \(paths[missing / a].0)")
            }
            imageAttributes = present
            certainty = sure
        }

        // Every class needs images (else its class attributes would describe nothing seen).
        var perClass = [Int](repeating: 0, count: classes.count)
        for l in labels { perClass[l] += 1 }
        if let empty = perClass.firstIndex(of: 0) {
            throw .malformed(path: file("classes.txt"), line: empty + 1,
                             reason: "class \(classes[empty]) has no images in image_class_labels.txt")
        }
        SplitAssignment.carveValidation(&splits, labels: labels, fraction: valFraction, seed: seed)

        let items = (0..<n).map { i in
            ImportItem(path: file("images/" + paths[i].0), listedAs: paths[i].0, label: labels[i], split: splits[i],
                       keypoints: keypoints[i], box: boxes[i], citedAt: "\(file("images.txt")):\(paths[i].1.number)",
                       attributes: imageAttributes?[i], attributeCertainty: certainty?[i])
        }
        return ImportPlan(classNames: classes.map(cubDisplayName), attributeNames: attributes,
                          classAttributes: matrix.map { Float($0 / 100) }, partNames: parts, hasBoxes: true,
                          hasImageAttributes: imageAttributes != nil, items: items,
                          annotationFiles: ["classes.txt", "attributes.txt", "parts/parts.txt",
                                            "attributes/class_attribute_labels_continuous.txt", "images.txt",
                                            "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt",
                                            "parts/part_locs.txt"].map(file) + (imageAttributes == nil ? [] : [labelsPath]),
                          notes: ["val_fraction_of_train": .double(valFraction)])
    }
}
