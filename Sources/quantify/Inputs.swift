import AttributeSpace
import Foundation
import HDF5Store
import PipelineKit

/// Predictions of one classifier on one image set: a features file (general classifier f)
/// or an attributes file (attribute-based classifier F, with its predicted attributes).
struct Predictions {
    let path: String
    let predictions: [Int32]
    let labels: [Int32]
    let index: [Int64]
    /// Predicted attributes [N, A] (attributes files only).
    let attributes: [Float]?

    var accuracy: Double { AttributeSpace.accuracy(predictions, labels) }

    /// Reads a features or attributes file; for attributes files, checks that the class and
    /// attribute names are those of the dataset.
    static func read(_ path: String, dataset: ClassAttributeTable, withAttributes: Bool) throws -> Predictions {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StageError("\(path): missing (needed by quantify; has every stage for this eps run?)")
        }
        let file = try H5File.open(path)
        defer { file.close() }
        let predictions = try file.read("predictions", as: Int32.self, expectingShape: [nil]).data
        let n = predictions.count
        let labels = try file.read("labels", as: Int32.self, expectingShape: [n]).data
        let index = try file.read("index", as: Int64.self, expectingShape: [n]).data
        var attributes: [Float]?
        if withAttributes {
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
            attributes = try file.read("attributes", as: Float.self, expectingShape: [n, dataset.attributeCount]).data
        }
        if let bad = predictions.firstIndex(where: { $0 < 0 || Int($0) >= dataset.classCount }) {
            throw H5Error(file: path, object: "/predictions", message: "row \(bad) is \(predictions[bad]), outside 0..<\(dataset.classCount)")
        }
        return Predictions(path: path, predictions: predictions, labels: labels, index: index, attributes: attributes)
    }

    /// Throws unless `other` covers the same images in the same order with the same labels.
    func checkAligned(with other: Predictions) throws {
        guard index == other.index, labels == other.labels else {
            throw StageError("\(other.path): its images (index/labels) do not line up with \(path)'s")
        }
    }
}

/// The artifact paths of one dataset directory, by the pipeline's naming convention.
struct DatasetLayout {
    let root: String

    var images: String { "\(root)/images.h5" }
    func sje(_ model: String) -> String { "\(root)/sje/\(model).h5" }
    func features(_ model: String, _ set: String) -> String { "\(root)/features/\(model)-\(set).h5" }
    func attributes(_ model: String, _ set: String) -> String { "\(root)/attributes/\(model)-\(set).h5" }

    static let standard = "standard"
    static func robust(_ eps: String) -> String { "robust-eps\(eps)" }
    static func adversarialSet(_ eps: String) -> String { "adv-eps\(eps)" }
    static func transferSet(_ eps: String) -> String { "transfer-eps\(eps)" }
}

/// Everything quantify reads for one eps: f and F of the standard and the robust model on
/// clean test images, white-box adversarials, and (robust) the standard model's adversarials.
struct EpsInputs {
    let eps: String
    let standardClean: (f: Predictions, attributes: Predictions)
    let standardAdversarial: (f: Predictions, attributes: Predictions)
    let robustClean: (f: Predictions, attributes: Predictions)
    let robustAdversarial: (f: Predictions, attributes: Predictions)
    let robustTransfer: (f: Predictions, attributes: Predictions)

    static func read(eps: String, layout: DatasetLayout, dataset: ClassAttributeTable) throws -> EpsInputs {
        func pair(_ model: String, _ set: String) throws -> (f: Predictions, attributes: Predictions) {
            let f = try Predictions.read(layout.features(model, set), dataset: dataset, withAttributes: false)
            let a = try Predictions.read(layout.attributes(model, set), dataset: dataset, withAttributes: true)
            try f.checkAligned(with: a)
            return (f, a)
        }
        let robust = DatasetLayout.robust(eps)
        let inputs = EpsInputs(eps: eps,
                               standardClean: try pair(DatasetLayout.standard, "test"),
                               standardAdversarial: try pair(DatasetLayout.standard, DatasetLayout.adversarialSet(eps)),
                               robustClean: try pair(robust, "test"),
                               robustAdversarial: try pair(robust, DatasetLayout.adversarialSet(eps)),
                               robustTransfer: try pair(robust, DatasetLayout.transferSet(eps)))
        for other in [inputs.standardAdversarial.f, inputs.robustClean.f, inputs.robustAdversarial.f, inputs.robustTransfer.f] {
            try inputs.standardClean.f.checkAligned(with: other)
        }
        return inputs
    }

    /// Every file read, for provenance.
    var paths: [String] {
        [standardClean, standardAdversarial, robustClean, robustAdversarial, robustTransfer].flatMap { [$0.f.path, $0.attributes.path] }
    }
}
