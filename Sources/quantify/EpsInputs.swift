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

    /// Reads a features file (the general classifier's predictions) or an attributes file
    /// (the attribute-based classifier's, with its predicted attributes, which must be
    /// finite); for attributes files, checks that the class and attribute names are those
    /// of the dataset.
    static func read(_ path: String, dataset: ClassAttributeTable, withAttributes: Bool) throws -> Predictions {
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
    func checkAligned(with other: Predictions) throws {
        guard index == other.index, labels == other.labels else {
            throw StageError("\(other.path): its images (index/labels) do not line up with \(path)'s")
        }
    }
}

/// Everything quantify reads for one eps: f and F of the standard and the robust model on
/// clean test images, white-box adversarials, and (robust) the standard model's adversarials.
struct EpsInputs {
    let eps: Epsilon
    let standardClean: (f: Predictions, attributes: Predictions)
    let standardAdversarial: (f: Predictions, attributes: Predictions)
    let robustClean: (f: Predictions, attributes: Predictions)
    let robustAdversarial: (f: Predictions, attributes: Predictions)
    let robustTransfer: (f: Predictions, attributes: Predictions)

    /// The robust model is the layout's robust model at `eps`.
    static func read(eps: Epsilon, layout: DatasetLayout, dataset: ClassAttributeTable) throws -> EpsInputs {
        func pair(_ model: String, _ set: String) throws -> (f: Predictions, attributes: Predictions) {
            let f = try Predictions.read(layout.features(model, set), dataset: dataset, withAttributes: false)
            let a = try Predictions.read(layout.attributes(model, set), dataset: dataset, withAttributes: true)
            try f.checkAligned(with: a)
            return (f, a)
        }
        let robust = layout.robustModel(at: eps)
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

    /// Checks from provenance that every file sits in its slot: each model's features were
    /// made by that model (from its own adversarial file, or the standard model's for
    /// transfer, made against the right model), its attributes by its SJE from those
    /// features, and everything from the dataset's images.h5. Links to files that are not
    /// in the directory, and files without provenance, are not checked.
    static func checkChain(eps: Epsilon, layout: DatasetLayout, chain: ProvenanceChain) throws {
        func present(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
        let robust = layout.robustModel(at: eps)
        let slots = [(DatasetLayout.standard, "test"), (DatasetLayout.standard, DatasetLayout.adversarialSet(eps)),
                     (robust, "test"), (robust, DatasetLayout.adversarialSet(eps)), (robust, DatasetLayout.transferSet(eps))]
        for (model, set) in slots {
            let features = layout.features(model, set), attributes = layout.attributes(model, set)
            if present(layout.model(model)) { try chain.requireDerived(features, from: layout.model(model), as: "model") }
            if let adversarial = layout.adversarialSource(of: model, set: set), present(adversarial) {
                try chain.requireDerived(features, from: adversarial, as: "adversarial file")
                let attacked = set.hasPrefix("transfer") ? DatasetLayout.standard : model
                if present(layout.model(attacked)) { try chain.requireDerived(adversarial, from: layout.model(attacked), as: "model") }
            }
            if present(layout.sje(model)) { try chain.requireDerived(attributes, from: layout.sje(model), as: "SJE") }
            try chain.requireDerived(attributes, from: features, as: "features")
            try chain.requireDerived(features, from: layout.images, as: "images")
        }
    }

    /// Every file read, for provenance.
    var paths: [String] {
        [standardClean, standardAdversarial, robustClean, robustAdversarial, robustTransfer].flatMap { [$0.f.path, $0.attributes.path] }
    }
}
