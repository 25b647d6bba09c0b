import ClassifierKit
import HDF5Store
import ImageIO

/// What images.h5 says about where things are: names, class and image attributes, part
/// masks (rendered sets), keypoints (CUB), boxes and a stored attribute → parts table.
/// Small per-image arrays are read at once; masks row by row with the images.
public final class DatasetTruth {
    public let path: String
    public let file: H5File
    public let count: Int
    public let imageSize: Int
    public let classNames: [String]
    public let attributeNames: [String]
    /// C × A in [0, 1].
    public let classAttributes: [Float]
    /// N × A, when the dataset has per-image attributes.
    public let imageAttributes: [Float]?
    public let partNames: [String]
    public let hasMasks: Bool
    /// N × P × 3 (x, y, visible).
    public let keypoints: [Float]?
    /// N × 4 (x, y, w, h).
    public let boxes: [Float]?
    /// `attribute_parts` as prepare-data stored it (rendered sets).
    public let storedParts: AttributeParts?

    /// The truth of `images`, whose images, labels and names ImageSet has read and checked.
    public init(_ images: ImageSet) throws {
        path = images.path
        file = try H5File.open(path)
        count = images.count
        imageSize = images.imageSize
        classNames = images.classNames
        attributeNames = try file.readStrings("attribute_names")
        let (c, a) = (classNames.count, attributeNames.count)
        classAttributes = try file.read("class_attributes", as: Float.self, expectingShape: [c, a]).data
        imageAttributes = file.exists("image_attributes")
            ? try file.read("image_attributes", as: Float.self, expectingShape: [count, a]).data : nil
        try NumberCheck.requireFinite(classAttributes, rowWidth: a, file: path, object: "/class_attributes")
        if let imageAttributes { try NumberCheck.requireFinite(imageAttributes, rowWidth: a, file: path, object: "/image_attributes") }
        partNames = file.exists("part_names") ? try file.readStrings("part_names") : []
        let p = partNames.count
        if file.exists("part_masks") {
            let maskShape = try file.shape("part_masks")
            guard maskShape == [count, imageSize, imageSize], try file.dtype("part_masks") == .uint8 else {
                throw H5Error(file: path, object: "/part_masks", message: "expected uint8 [\(count), \(imageSize), \(imageSize)], found \(maskShape)")
            }
            hasMasks = p > 0
        } else {
            hasMasks = false
        }
        keypoints = p > 0 && file.exists("part_keypoints")
            ? try file.read("part_keypoints", as: Float.self, expectingShape: [count, p, 3]).data : nil
        boxes = file.exists("boxes") ? try file.read("boxes", as: Float.self, expectingShape: [count, 4]).data : nil
        if file.exists("attribute_parts") {
            let table = try file.read("attribute_parts", as: Int32.self, expectingShape: [a, nil])
            if let bad = table.data.first(where: { $0 < -1 || Int($0) >= p }) {
                throw H5Error(file: path, object: "/attribute_parts", message: "part id \(bad) outside -1..<\(p)")
            }
            storedParts = AttributeParts(padded: table.data, width: table.shape[1])
        } else {
            storedParts = nil
        }
    }

    deinit { file.close() }

    /// Part masks of `rows` (each imageSize² labels), read run by run.
    public func masks(_ rows: [Int]) throws -> [[UInt8]] {
        guard hasMasks else { return rows.map { _ in [] } }
        let plane = imageSize * imageSize
        var out: [[UInt8]] = []
        var position = 0
        while position < rows.count {
            var end = position + 1
            while end < rows.count && rows[end] == rows[end - 1] + 1 { end += 1 }
            let data = try file.readRows("part_masks", rows[position]..<(rows[end - 1] + 1), as: UInt8.self).data
            for j in 0..<(end - position) { out.append(Array(data[(j * plane)..<((j + 1) * plane)])) }
            position = end
        }
        return out
    }

    /// Part masks of `rows` read as one run from the first to the last of them (then picked): for
    /// scattered rows (a split's), whose runs would each inflate the whole compressed chunk again.
    /// Holds the span's masks at once: sets with masks are rendered, small images.
    public func masks(spanning rows: [Int]) throws -> [[UInt8]] {
        guard hasMasks, let first = rows.min(), let last = rows.max() else { return rows.map { _ in [] } }
        let span = try masks(Array(first...last))
        return rows.map { span[$0 - first] }
    }

    /// The part truth of image `row`: its mask when the set has masks, else its keypoints.
    public func truth(row: Int, mask: [UInt8]) -> PartTruth {
        if hasMasks { return .mask(rows: imageSize, columns: imageSize, labels: mask) }
        if let keypoints {
            let p = partNames.count
            return .keypoints((0..<p).map { j in
                let base = (row * p + j) * 3
                return Keypoint(x: Double(keypoints[base]), y: Double(keypoints[base + 1]), visible: keypoints[base + 2] > 0.5)
            })
        }
        return .none
    }

    /// Whether image `row` has attribute `attribute` (nil without per-image attributes).
    public func has(row: Int, attribute: Int) -> Bool? {
        imageAttributes.map { $0[row * attributeNames.count + attribute] >= 0.5 }
    }

    /// The bird's box (x, y, w, h) of image `row`, when the set has boxes.
    public func box(row: Int) -> [Float]? {
        boxes.map { Array($0[(row * 4)..<(row * 4 + 4)]) }
    }
}

extension DatasetTruth {
    /// Where each attribute lives: the group → parts table at `table` (TSV) when given, else
    /// the table images.h5 stores (rendered sets), else no part for any attribute.
    public func attributeParts(table: String?) throws -> AttributeParts {
        if let table {
            return try AttributeParts(attributeNames: attributeNames, partNames: partNames,
                                      groups: try AttributeParts.readGroupTable(table), source: table)
        }
        return storedParts ?? AttributeParts(parts: attributeNames.map { _ in [] })
    }

    /// Whether maps can be scored with `parts`: nil when they can, else why not.
    public func whyUnscorable(with parts: AttributeParts) -> String? {
        let localisable = parts.parts.filter { !$0.isEmpty }.count
        if (hasMasks || keypoints != nil) && localisable > 0 { return nil }
        return partNames.isEmpty ? "no part_names" : localisable == 0 ? "no attribute → parts table (--attribute-parts)"
            : "no part_masks or part_keypoints"
    }
}
