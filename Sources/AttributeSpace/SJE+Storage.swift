import Foundation
import HDF5Store

/// SJE files (docs/design.md § Artifact schemas): `W` [D, A], `class_embeddings` [C, A] (φ as used),
/// `class_names`, `attribute_names`, `history/{train_accuracy, val_accuracy}`, and for
/// standardised features `feature_mean` / `feature_std`; root attributes
/// `feature_normalisation`, `class_normalisation`, `learning_rate`, `epochs`,
/// `best_epoch`, `val_accuracy`.
extension SJE {
    /// Writes W, φ and the normaliser; the caller adds names, history and provenance.
    public func write(to file: H5File) throws {
        try file.write("W", w, shape: [featureDimension, attributeCount])
        try file.write("class_embeddings", classEmbeddings, shape: [classCount, attributeCount])
        try file.setAttribute("feature_normalisation", .string(normaliser.kind.rawValue))
        if normaliser.kind == .standardise {
            try file.write("feature_mean", normaliser.mean, shape: [featureDimension])
            try file.write("feature_std", normaliser.std, shape: [featureDimension])
        }
    }

    /// Reads an SJE file, checking the shapes agree with each other.
    public static func read(from file: H5File) throws -> SJE {
        let w = try file.read("W", as: Float.self, expectingShape: [nil, nil])
        let (d, a) = (w.shape[0], w.shape[1])
        let phi = try file.read("class_embeddings", as: Float.self, expectingShape: [nil, a])
        try NumberCheck.requireFinite(w.data, rowWidth: a, file: file.path, object: "/W")
        try NumberCheck.requireFinite(phi.data, rowWidth: a, file: file.path, object: "/class_embeddings")
        guard let kindName = try file.attribute("feature_normalisation").stringValue,
              let kind = FeatureNormalisation(rawValue: kindName) else {
            throw H5Error(file: file.path, object: "/ @feature_normalisation",
                          message: "expected one of \(FeatureNormalisation.allCases.map(\.rawValue))")
        }
        var normaliser = FeatureNormaliser(kind: kind)
        if kind == .standardise {
            let mean = try file.read("feature_mean", as: Float.self, expectingShape: [d]).data
            let std = try file.read("feature_std", as: Float.self, expectingShape: [d]).data
            try NumberCheck.requireFinite(mean, file: file.path, object: "/feature_mean")
            try NumberCheck.requireFinite(std, file: file.path, object: "/feature_std")
            normaliser = FeatureNormaliser(kind: kind, mean: mean, std: std)
        }
        return SJE(w: w.data, featureDimension: d, classEmbeddings: phi.data, classCount: phi.shape[0], normaliser: normaliser)
    }
}
