import Foundation

/// The robust models of a dataset (`<ds>.ROBUST_TRAINING` in the Makefile): one model per
/// eps, `robust-eps<e>` trained at e (`per-eps`, the default), or one model trained at the
/// largest eps and evaluated at every eps (`largest`, as the authors did; stages take it as
/// `--robust-eps <max>`).
public enum RobustModels: Sendable, Equatable {
    case perEps
    case one(trainedAt: Epsilon)

    /// `--robust-eps E` when given, else one model per eps.
    public init(robustEps: Epsilon?) { self = robustEps.map { .one(trainedAt: $0) } ?? .perEps }

    /// The robust model evaluated at `eps`.
    public func model(at eps: Epsilon) -> String {
        switch self {
        case .perEps: return DatasetLayout.robustModel(trainedAt: eps)
        case .one(let trainedAt): return DatasetLayout.robustModel(trainedAt: trainedAt)
        }
    }
}

/// Which model a grounding file (or an adversarial set the report shows) belongs to: the
/// standard or the robust model on its own (white-box) adversarials, or the robust model on
/// the standard model's adversarials (transfer).
public enum GroundingRole: String, CaseIterable, Sendable {
    case standard, robust, transfer

    /// How the report names it.
    public var display: String {
        switch self {
        case .standard: return "standard model"
        case .robust: return "robust model (white-box)"
        case .transfer: return "robust model on the standard model's adversarials"
        }
    }
}

/// The artifact paths of one dataset directory: the one place that spells the pipeline's
/// file names (the Makefile's `pipelines/common.mk` writes the same names): `images.h5`,
/// `models/<model>.h5`, `adv/<model>-eps<e>.h5`, `features/<model>-<set>.h5`,
/// `sje/<model>.h5`, `attributes/<model>-<set>.h5`, `grounding/<model>-eps<e>.h5` and
/// `grounding/<model>-transfer-eps<e>.h5`, `metrics.h5`, `metrics.json`, `tables/<name>.csv`.
/// Models are `standard` and the robust models (`robust`); sets are `train`, `val`, `test`,
/// `adv-eps<e>` (a model's own adversarials) and `transfer-eps<e>` (a robust model on the
/// standard model's adversarials). `<e>` is eps as written in the settings (`Epsilon.text`).
public struct DatasetLayout: Sendable, Equatable {
    /// The dataset directory, e.g. `data/synth-fine`.
    public let root: String
    /// Which robust model is evaluated at each eps.
    public let robust: RobustModels

    public init(root: String, robust: RobustModels = .perEps) {
        self.root = root
        self.robust = robust
    }

    // MARK: Model and set names

    /// The model trained from scratch (or fine-tuned from imported weights).
    public static let standard = "standard"
    /// The model adversarially trained at `eps`.
    public static func robustModel(trainedAt eps: Epsilon) -> String { "robust-\(eps.fileTag)" }
    /// The robust model evaluated at `eps`.
    public func robustModel(at eps: Epsilon) -> String { robust.model(at: eps) }
    /// A model's own (white-box) adversarial images at `eps`, as a set name.
    public static func adversarialSet(_ eps: Epsilon) -> String { "adv-\(eps.fileTag)" }
    /// The standard model's adversarial images at `eps` fed to another model, as a set name.
    public static func transferSet(_ eps: Epsilon) -> String { "transfer-\(eps.fileTag)" }

    /// The name of the artifact a file holds, as the pipeline's names use it:
    /// `data/x/models/standard.h5` → `standard`, `adv/standard-eps0.03.h5` → `standard-eps0.03`.
    public static func artifactName(of path: String) -> String {
        let file = OutputPaths.fileName(of: path)
        return file.hasSuffix(".h5") ? String(file.dropLast(3)) : file
    }

    /// The model a role names at `eps`.
    public func model(of role: GroundingRole, at eps: Epsilon) -> String {
        role == .standard ? Self.standard : robustModel(at: eps)
    }

    // MARK: Files

    public var images: String { file("images.h5") }
    public func model(_ model: String) -> String { file("models/\(model).h5") }
    public func adversarial(_ model: String, eps: Epsilon) -> String { file("adv/\(model)-\(eps.fileTag).h5") }
    public func features(_ model: String, _ set: String) -> String { file("features/\(model)-\(set).h5") }
    public func sje(_ model: String) -> String { file("sje/\(model).h5") }
    public func attributes(_ model: String, _ set: String) -> String { file("attributes/\(model)-\(set).h5") }
    public var metrics: String { file("metrics.h5") }
    public var metricsJSON: String { file("metrics.json") }
    public func table(_ name: String) -> String { file("tables/\(name).csv") }
    public var groundingFolder: String { file("grounding") }
    /// The dataset's report folder (`report/index.html` and its figures and panels).
    public var reportFolder: String { file("report") }

    /// The adversarial images a role is evaluated on at `eps`: the attacked model's own for
    /// standard and robust, the standard model's for transfer.
    public func adversarial(of role: GroundingRole, eps: Epsilon) -> String {
        adversarial(role == .robust ? robustModel(at: eps) : Self.standard, eps: eps)
    }

    /// The grounding file of a role at `eps`: `grounding/standard-eps<e>.h5`,
    /// `grounding/<robust>-eps<e>.h5`, `grounding/<robust>-transfer-eps<e>.h5`.
    public func grounding(_ role: GroundingRole, eps: Epsilon) -> String {
        let model = model(of: role, at: eps)
        return file("grounding/\(model)\(role == .transfer ? "-transfer" : "")-\(eps.fileTag).h5")
    }

    /// The adversarial file a features set of `model` was made from: its own adversarials
    /// for `adv-eps<e>`, the standard model's for `transfer-eps<e>`; nil for clean splits.
    public func adversarialSource(of model: String, set: String) -> String? {
        for (prefix, attacked) in [("adv-eps", model), ("transfer-eps", Self.standard)] where set.hasPrefix(prefix) {
            if let eps = Epsilon(String(set.dropFirst(prefix.count))) { return adversarial(attacked, eps: eps) }
        }
        return nil
    }

    private func file(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
}

/// The artifacts of a whole run, `<DATA>`: one folder per dataset, the cross-dataset findings
/// (`findings.json`) and the overview report (`report/`).
public struct DataLayout: Sendable, Equatable {
    /// The data folder, e.g. `data` or `data/smoke`.
    public let root: String

    public init(root: String) { self.root = root }

    /// A dataset's folder (one robust model per eps unless the dataset's metrics say otherwise).
    public func dataset(_ name: String, robust: RobustModels = .perEps) -> DatasetLayout {
        DatasetLayout(root: (root as NSString).appendingPathComponent(name), robust: robust)
    }
    public var findings: String { (root as NSString).appendingPathComponent("findings.json") }
    public var reportFolder: String { (root as NSString).appendingPathComponent("report") }
}

/// The aggregate of a multi-seed run (`quantify --aggregate`, `make SEEDS=…` → `<DATA>/seeds/`),
/// all written by the run: the claims over the seeds as `metrics.json` and `summary.txt`, the
/// results table as Markdown (`fidelity`; docs/fidelity.md is one measured run's) and `report/`.
public struct SeedsLayout: Sendable, Equatable {
    /// The aggregate's folder, e.g. `data/seeds`.
    public let root: String

    public init(root: String) { self.root = root }

    public var metricsJSON: String { file("metrics.json") }
    public var summary: String { file("summary.txt") }
    public var fidelity: String { file("fidelity.md") }
    public var reportFolder: String { file("report") }

    private func file(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
}
