import AttributeSpace
import Foundation
import HDF5Store
import PipelineKit

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
