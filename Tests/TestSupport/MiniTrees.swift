import Foundation

/// Miniature dataset trees in the official layouts, built from the project's shipped real
/// attribute files (data/attributes) and real CUB photos (Tests/Fixtures/datasets/cub).
public enum MiniTrees {
    public static let attributes = TestPaths.repositoryRoot.appendingPathComponent("data/attributes")
    public static let photos = ["black_footed_albatross_0000.jpg", "painted_bunting_0000.jpg", "blue_jay_0000.jpg",
                         "scarlet_tanager_0000.jpg"].map { TestPaths.fixture("datasets/cub").appendingPathComponent($0) }
    /// Rows (1-based) of CUB's classes.txt used by the miniature CUB tree: the fixture photos' classes.
    public static let cubClassRows = [1, 16, 73, 139]

    public static func lines(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
    }

    public static func write(_ text: String, _ root: URL, _ name: String) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    public static func copy(_ source: URL, _ root: URL, _ name: String) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source, to: url)
    }

    /// A CUB_200_2011 tree with 4 classes (CUB 001, 016, 073, 139) and 8 images (two per
    /// class, 227×227): image ids 1…8, image 2k+1 train, 2k+2 test; image 1 has a box
    /// (10, 20, 100, 150) and a visible beak at (113.5, 50); the rest of its parts hidden.
    public static func cub(in root: URL) throws {
        let cub = attributes.appendingPathComponent("cub")
        let classLines = try lines(cub.appendingPathComponent("classes.txt"))
        let matrix = try lines(cub.appendingPathComponent("class_attribute_labels_continuous.txt"))
        var classes = "", rows = "", images = "", labels = "", split = "", boxes = "", parts = ""
        for (k, row) in cubClassRows.enumerated() {
            let name = classLines[row - 1].split(separator: " ")[1]
            classes += "\(k + 1) \(name)\n"
            rows += matrix[row - 1] + "\n"
            for j in 0..<2 {
                let id = 2 * k + j + 1
                let path = "\(name)/\(name)_\(j).jpg"
                try copy(photos[k], root, "images/" + path)
                images += "\(id) \(path)\n"
                labels += "\(id) \(k + 1)\n"
                split += "\(id) \(j == 0 ? 1 : 0)\n"
                boxes += id == 1 ? "1 10.0 20.0 100.0 150.0\n" : "\(id) 0.0 0.0 227.0 227.0\n"
                for p in 1...15 {
                    parts += id == 1 && p == 2 ? "1 2 113.5 50.0 1\n" : "\(id) \(p) \(id == 1 ? "0.0 0.0 0" : "100.0 100.0 1")\n"
                }
            }
        }
        try write(classes, root, "classes.txt")
        try write(rows, root, "attributes/class_attribute_labels_continuous.txt")
        try write(images, root, "images.txt")
        try write(labels, root, "image_class_labels.txt")
        try write(split, root, "train_test_split.txt")
        try write(boxes, root, "bounding_boxes.txt")
        try write(parts, root, "parts/part_locs.txt")
        try copy(cub.appendingPathComponent("attributes.txt"), root, "attributes.txt")
        try copy(cub.appendingPathComponent("parts.txt"), root, "parts/parts.txt")
        try write(cubImageAttributeLabels(images: 8), root, "attributes/image_attribute_labels.txt")
    }

    /// Per-image labels of the miniature tree, one line per image and attribute: image `id`
    /// has attribute `k` (1-based) when (id + k) % 3 == 0, with certainty (id + k) % 4 + 1.
    /// The line for image 1, attribute 2 carries an extra field, as a few lines of the
    /// real file do.
    static func cubImageAttributeLabels(images: Int) -> String {
        var text = ""
        for id in 1...images {
            for k in 1...312 {
                text += "\(id) \(k) \((id + k) % 3 == 0 ? 1 : 0) \((id + k) % 4 + 1) \(id == 1 && k == 2 ? "0 2.5" : "1.25")\n"
            }
        }
        return text
    }

    /// An AwA2 tree with its first 3 classes (antelope, grizzly+bear, killer+whale), the
    /// real 85 predicates and matrix rows (antelope's first four cells are missing, -1),
    /// and 4 JPEGs per class.
    public static func awa2(in root: URL) throws {
        let awa2 = attributes.appendingPathComponent("awa2")
        let classLines = Array(try lines(awa2.appendingPathComponent("classes.txt")).prefix(3))
        try write(classLines.joined(separator: "\n") + "\n", root, "classes.txt")
        try copy(awa2.appendingPathComponent("predicates.txt"), root, "predicates.txt")
        let rows = try lines(awa2.appendingPathComponent("predicate-matrix-continuous.txt")).prefix(3)
        try write(rows.joined(separator: "\n") + "\n", root, "predicate-matrix-continuous.txt")
        for (k, line) in classLines.enumerated() {
            let name = line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]
            for j in 0..<4 { try copy(photos[(k + j) % 4], root, "JPEGImages/\(name)/\(name)_\(10001 + j).jpg") }
        }
    }

    /// A LAD tree with its first 3 labels (dog, cat, bear), the real 359 attributes and
    /// class rows; 7 images: ids 000001–000006 split 4 train+val / 2 test, 000007 in no split.
    /// Image 000001 has box [10, 20, 110, 170] (corners).
    public static func lad(in root: URL) throws {
        let lad = attributes.appendingPathComponent("lad")
        let labels = Array(try lines(lad.appendingPathComponent("label_list.txt")).prefix(3))
        try write(labels.joined(separator: "\n") + "\n", root, "label_list.txt")
        try copy(lad.appendingPathComponent("attribute_list.txt"), root, "attribute_list.txt")
        let rows = try lines(lad.appendingPathComponent("attributes_per_class.txt")).prefix(3)
        try write(rows.joined(separator: "\n") + "\n", root, "attributes_per_class.txt")
        var images = ""
        for i in 1...7 {
            let label = ["Label_A_01", "Label_A_02", "Label_A_03"][(i - 1) % 3]
            let path = "images/\(label)/img\(i).jpg"
            try copy(photos[i % 4], root, path)
            let box = i == 1 ? "[10, 20, 110, 170]" : "[0, 0, 227, 227]"
            images += String(format: "%06d", i) + ", \(label), \(box), \(path)\n"
        }
        try write(images, root, "images.txt")
        try write("train+val:\n000001\n000002\n000003\n000004\ntest:\n000005\n000006\n", root, "split_supervisedlearning.txt")
    }
}
