import AttributeSpace
import ClassifierKit
import Foundation
import Grounding
import HDF5Store
import PipelineKit

/// What images.h5 says about where things are: names, class and image attributes, part
/// masks (rendered sets), keypoints (CUB), boxes and a stored attribute → parts table.
/// Small per-image arrays are read at once; masks row by row with the images.
final class DatasetTruth {
    let path: String
    let file: H5File
    let count: Int
    let imageSize: Int
    let classNames: [String]
    let attributeNames: [String]
    /// C × A in [0, 1].
    let classAttributes: [Float]
    /// N × A, when the dataset has per-image attributes.
    let imageAttributes: [Float]?
    let partNames: [String]
    let hasMasks: Bool
    /// N × P × 3 (x, y, visible).
    let keypoints: [Float]?
    /// N × 4 (x, y, w, h).
    let boxes: [Float]?
    /// `attribute_parts` as prepare-data stored it (rendered sets).
    let storedParts: AttributeParts?

    /// The truth of `images`, whose images, labels and names ImageSet has read and checked.
    init(_ images: ImageSet) throws {
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
    func masks(_ rows: [Int]) throws -> [[UInt8]] {
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

    /// The part truth of image `row`: its mask when the set has masks, else its keypoints.
    func truth(row: Int, mask: [UInt8]) -> PartTruth {
        if hasMasks { return .mask(rows: imageSize, columns: imageSize, labels: mask) }
        if let keypoints {
            let p = partNames.count
            return .keypoints((0..<p).map { j in
                let base = (row * p + j) * 3
                return PartPoint(x: keypoints[base], y: keypoints[base + 1], visible: keypoints[base + 2] > 0.5)
            })
        }
        return .none
    }

    /// Whether image `row` has attribute `attribute` (nil without per-image attributes).
    func has(row: Int, attribute: Int) -> Bool? {
        imageAttributes.map { $0[row * attributeNames.count + attribute] >= 0.5 }
    }

    func box(row: Int) -> [Float]? {
        boxes.map { Array($0[(row * 4)..<(row * 4 + 4)]) }
    }
}

/// Throws unless the adversarial file at `path` was made from `images`: its attack's
/// provenance records the SHA-256 of its `source_images`, which must be `images`' (checked
/// before its rows are read against them, so the message says what is wrong). Returns the
/// model the attack was made against (its `model` attribute; "" when absent).
func checkAdversarialSource(_ path: String, images: String) throws -> String {
    let file = try H5File.open(path)
    defer { file.close() }
    if let source = try? file.attribute("source_images").stringValue,
       let recorded = try Provenance.read(from: file).inputs.first(where: { $0.path == source }) {
        let imagesHash = try FileDigests.shared.sha256(images)
        guard recorded.sha256 == imagesHash else {
            throw StageError("\(path): made from \(source) (SHA-256 \(recorded.sha256.prefix(12))…), but --images \(images) "
                             + "has SHA-256 \(imagesHash.prefix(12))…: an adversarial file of another images.h5, or the images changed since the attack")
        }
    } else {
        Log.warning("\(path): no provenance of its source images; checking rows and labels only")
    }
    return file.hasAttribute("model") ? try file.attribute("model").stringValue ?? "" : ""
}

/// Throws unless the SJE was fitted on features of this model: the SJE's training
/// features file (its first provenance input) records the model's SHA-256. Skipped with a
/// warning when that features file is gone.
func checkSJEFitsModel(sjePath: String, sjeFile: H5File, modelPath: String, modelHash: String) throws {
    guard let featuresPath = try? Provenance.read(from: sjeFile).inputs.first?.path else {
        Log.warning("\(sjePath): no provenance; cannot check it was fitted on \(modelPath)'s features")
        return
    }
    guard FileManager.default.fileExists(atPath: featuresPath) else {
        Log.warning("\(sjePath): its training features \(featuresPath) are gone; cannot check they came from \(modelPath)")
        return
    }
    let features = try H5File.open(featuresPath)
    defer { features.close() }
    guard let recordedModel = try? features.attribute("model").stringValue,
          let recorded = try Provenance.read(from: features).inputs.first(where: { $0.path == recordedModel }) else { return }
    guard recorded.sha256 == modelHash else {
        throw StageError("\(sjePath): fitted on features of \(recordedModel) (SHA-256 \(recorded.sha256.prefix(12))…), "
                         + "but --model \(modelPath) has SHA-256 \(modelHash.prefix(12))…: the SJE belongs to another model")
    }
}
