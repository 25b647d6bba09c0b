import Foundation
import HDF5Store
import PipelineKit

/// Predictions of one classifier on one image set: a features file (general classifier f)
/// or an attributes file (attribute-based classifier F, with its predicted attributes).
public struct Predictions: Sendable {
    public let path: String
    public let predictions: [Int32]
    public let labels: [Int32]
    public let index: [Int64]
    /// Predicted attributes [N, A] (attributes files only).
    public let attributes: [Float]?

    public var accuracy: Double { AttributeSpace.accuracy(predictions, labels) }

    /// Reads a features file (the general classifier's predictions) or an attributes file
    /// (the attribute-based classifier's, with its predicted attributes, which must be
    /// finite); for attributes files, checks that the class and attribute names are those
    /// of the dataset.
    public static func read(_ path: String, dataset: ClassAttributeTable, withAttributes: Bool) throws -> Predictions {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StageError("\(path): missing (needed by quantify; has every stage for this eps run?)")
        }
        guard withAttributes else {
            let features = try FeaturesFile(path)
            try features.checkClasses(dataset.classCount, of: dataset.path)
            guard let predictions = features.predictions else {
                throw H5Error(file: path, object: "/predictions", message: "missing: quantify needs the model's predictions")
            }
            return Predictions(path: path, predictions: predictions, labels: features.labels, index: features.index, attributes: nil)
        }
        let file = try H5File.open(path)
        defer { file.close() }
        let predictions = try file.read("predictions", as: Int32.self, expectingShape: [nil]).data
        let n = predictions.count
        let labels = try file.read("labels", as: Int32.self, expectingShape: [n]).data
        let index = try file.read("index", as: Int64.self, expectingShape: [n]).data
        let classNames = try file.readStrings("class_names")
        guard classNames == dataset.classNames else {
            throw StageError("\(path): /class_names (\(classNames.count) classes) differ from \(dataset.path)'s "
                             + "(\(dataset.classCount)): an attributes file from another dataset?")
        }
        let attributeNames = try file.readStrings("attribute_names")
        guard attributeNames == dataset.attributeNames else {
            throw StageError("\(path): /attribute_names (\(attributeNames.count)) differ from \(dataset.path)'s "
                             + "(\(dataset.attributeCount)): an attributes file from another dataset?")
        }
        let attributes = try file.read("attributes", as: Float.self, expectingShape: [n, dataset.attributeCount]).data
        try NumberCheck.requireFinite(attributes, rowWidth: dataset.attributeCount, file: path, object: "/attributes")
        if let bad = predictions.firstIndex(where: { $0 < 0 || Int($0) >= dataset.classCount }) {
            throw H5Error(file: path, object: "/predictions", message: "row \(bad) is \(predictions[bad]), outside 0..<\(dataset.classCount)")
        }
        return Predictions(path: path, predictions: predictions, labels: labels, index: index, attributes: attributes)
    }

    /// Throws unless `other` covers the same images in the same order with the same labels.
    public func checkAligned(with other: Predictions) throws {
        guard index == other.index, labels == other.labels else {
            throw StageError("\(other.path): its images (index/labels) do not line up with \(path)'s")
        }
    }
}
