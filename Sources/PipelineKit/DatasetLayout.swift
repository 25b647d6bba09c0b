import Foundation

/// The artifact paths of one dataset directory, by the pipeline's naming (the Makefile's
/// `pipelines/common.mk` writes the same names): `images.h5`, `models/<model>.h5`,
/// `adv/<model>-eps<e>.h5`, `features/<model>-<set>.h5`, `sje/<model>.h5`,
/// `attributes/<model>-<set>.h5`, `grounding/<model>-eps<e>.h5`, `metrics.h5`.
/// Models are `standard` and `robust-eps<e>`; sets are `train`, `val`, `test`,
/// `adv-eps<e>` (a model's own adversarials) and `transfer-eps<e>` (a robust model on the
/// standard model's adversarials). `<e>` is eps as written in the settings (e.g. `0.01`).
public struct DatasetLayout: Sendable, Equatable {
    /// The dataset directory, e.g. `data/synth-fine`.
    public let root: String

    public init(root: String) { self.root = root }

    public var images: String { file("images.h5") }
    public func model(_ model: String) -> String { file("models/\(model).h5") }
    public func adversarial(_ model: String, eps: String) -> String { file("adv/\(model)-eps\(eps).h5") }
    public func features(_ model: String, _ set: String) -> String { file("features/\(model)-\(set).h5") }
    public func sje(_ model: String) -> String { file("sje/\(model).h5") }
    public func attributes(_ model: String, _ set: String) -> String { file("attributes/\(model)-\(set).h5") }
    public func grounding(_ model: String, eps: String) -> String { file("grounding/\(model)-eps\(eps).h5") }
    public var metrics: String { file("metrics.h5") }
    public var metricsJSON: String { file("metrics.json") }
    public func table(_ name: String) -> String { file("tables/\(name).csv") }

    /// The model trained from scratch.
    public static let standard = "standard"
    /// The model adversarially trained at `eps`.
    public static func robust(_ eps: String) -> String { "robust-eps\(eps)" }
    /// A model's own (white-box) adversarial images at `eps`, as a set name.
    public static func adversarialSet(_ eps: String) -> String { "adv-eps\(eps)" }
    /// The standard model's adversarial images at `eps` fed to another model, as a set name.
    public static func transferSet(_ eps: String) -> String { "transfer-eps\(eps)" }

    /// The adversarial file a features set of `model` was made from: its own adversarials
    /// for `adv-eps<e>`, the standard model's for `transfer-eps<e>`; nil for clean splits.
    public func adversarialSource(of model: String, set: String) -> String? {
        if set.hasPrefix("adv-eps") { return adversarial(model, eps: String(set.dropFirst("adv-eps".count))) }
        if set.hasPrefix("transfer-eps") { return adversarial(Self.standard, eps: String(set.dropFirst("transfer-eps".count))) }
        return nil
    }

    private func file(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
}
