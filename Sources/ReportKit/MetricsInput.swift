import Foundation
import HDF5Store
import PipelineKit
import Verdicts

/// The two classifiers of the paper: the CNN's own (general, f) and the attribute-based one (F).
public enum Classifier: String, CaseIterable, Sendable {
    case general, attribute

    /// How the page names it.
    public var display: String { self == .general ? "general classifier f" : "attribute-based classifier F" }
    public var symbol: String { self == .general ? "f" : "F" }
}

/// The image sets whose accuracy quantify reports.
public enum AccuracySet: String, CaseIterable, Sendable {
    case standardClean = "standard_clean", standardAdversarial = "standard_adversarial"
    case robustClean = "robust_clean", robustAdversarial = "robust_adversarial", robustTransfer = "robust_transfer"
}

/// The two distance studies (eqs. 12–15).
public enum DistanceStudyKind: String, CaseIterable, Sendable {
    case standardAttack = "standard_attack", robustRecovery = "robust_recovery"

    public var display: String {
        self == .standardAttack ? "standard attack (clean vs adversarial, standard model)"
            : "robust recovery (robust vs standard model, same adversarials)"
    }
    public var short: String { self == .standardAttack ? "standard attack" : "robust recovery" }
}

/// Everything the report reads from quantify's `metrics.h5` and `metrics.json` for one dataset.
public struct DatasetMetrics: Sendable {
    public let directory: String
    /// The dataset directory's name (e.g. `synth-fine`).
    public let name: String
    /// The title quantify was given (e.g. "synth-fine (default profile)").
    public let title: String
    public let eps: [Epsilon]
    /// Where the dataset's files are, with the robust model quantify evaluated at each eps.
    public let layout: DatasetLayout
    public let classNames: [String]
    public let attributeNames: [String]
    public let topFraction: Double
    /// accuracy[classifier][set][eps index]
    public let accuracy: [Classifier: [AccuracySet: [Double]]]
    /// R per classifier and eps: white-box and transfer.
    public let robustRatio: [Classifier: [Double]]
    public let transferRobustRatio: [Classifier: [Double]]
    /// d1 and d2 per eps index and study.
    public let distances: [[DistanceStudyKind: (d1: [Double], d2: [Double])]]
    /// The paper's claims as quantify checked them on this dataset (metrics.json).
    public let findings: [Finding]
    /// Per eps (as in the file names), the grounding items per test image (metrics.json), for the intervals.
    public var groundingRecords: [String: [GroundingRecord]] = [:]
    public var testImages = 0

    public var chance: Double { classNames.isEmpty ? .nan : 1 / Double(classNames.count) }

    /// Reads `<dir>/metrics.h5` and `<dir>/metrics.json`; a missing file is reported with the
    /// stage and the make target that write it.
    public static func read(directory: String) throws -> DatasetMetrics {
        let perEps = DatasetLayout(root: directory)
        let h5Path = perEps.metrics, jsonPath = perEps.metricsJSON
        for path in [h5Path, jsonPath] where !FileManager.default.fileExists(atPath: path) {
            throw StageError("\(path): missing. The report needs the quantify stage's metrics; run `make \(h5Path)` "
                             + "(stage quantify) first.")
        }
        let file = try H5File.open(h5Path)
        defer { file.close() }
        let eps = try file.readStrings("eps").map { text in
            guard let eps = Epsilon(text) else { throw H5Error(file: h5Path, object: "/eps", message: "\(text) is not an eps value") }
            return eps
        }
        // Written by quantify since the robust models became part of the layout; older files
        // were always one robust model per eps.
        let robustText = (try? file.attribute("robust_eps").stringValue ?? "") ?? ""
        guard robustText.isEmpty || Epsilon(robustText) != nil else {
            throw H5Error(file: h5Path, object: "robust_eps", message: "\(robustText) is not an eps value")
        }
        let layout = DatasetLayout(root: directory, robust: RobustModels(robustEps: Epsilon(robustText)))
        let e = eps.count
        var accuracy: [Classifier: [AccuracySet: [Double]]] = [:]
        var ratio: [Classifier: [Double]] = [:], transfer: [Classifier: [Double]] = [:]
        for classifier in Classifier.allCases {
            for set in AccuracySet.allCases {
                accuracy[classifier, default: [:]][set] = try file.read("summary/\(classifier.rawValue)/accuracy_\(set.rawValue)",
                                                                        as: Double.self, expectingShape: [e]).data
            }
            ratio[classifier] = try file.read("summary/\(classifier.rawValue)/robust_ratio", as: Double.self, expectingShape: [e]).data
            transfer[classifier] = try file.read("summary/\(classifier.rawValue)/transfer_robust_ratio", as: Double.self,
                                                 expectingShape: [e]).data
        }
        let distances = try eps.map { value in
            var studies: [DistanceStudyKind: (d1: [Double], d2: [Double])] = [:]
            for study in DistanceStudyKind.allCases {
                let group = "\(value.fileTag)/distances/\(study.rawValue)"
                let d1 = try file.read("\(group)/d1", as: Double.self, expectingShape: [nil]).data
                let d2 = try file.read("\(group)/d2", as: Double.self, expectingShape: [d1.count]).data
                studies[study] = (d1, d2)
            }
            return studies
        }
        let classNames = try file.readStrings("class_names")
        let attributeNames = try file.readStrings("attribute_names")
        let topFraction = try file.attribute("top_fraction").doubleValue ?? .nan

        let document: MetricsDocument
        do {
            document = try MetricsDocument.read(jsonPath)
        } catch {
            throw StageError("\(error); rerun `make \(h5Path)` (stage quantify)")
        }
        try MetricsPair.check(h5Path: h5Path, recorded: document.metricsH5Sha256, jsonPath: jsonPath)
        // metrics.h5 must be this directory's: made from its images.h5 (through the features).
        if FileManager.default.fileExists(atPath: layout.images) {
            try ProvenanceChain().requireDerived(h5Path, from: layout.images, as: "images")
        }
        let name = (directory as NSString).lastPathComponent
        return DatasetMetrics(directory: directory, name: name, title: document.dataset, eps: eps, layout: layout,
                              classNames: classNames, attributeNames: attributeNames, topFraction: topFraction,
                              accuracy: accuracy, robustRatio: ratio, transferRobustRatio: transfer,
                              distances: distances, findings: document.findings,
                              groundingRecords: Dictionary(document.perEps.map { ($0.eps, $0.grounding) }, uniquingKeysWith: { a, _ in a }),
                              testImages: document.testImages)
    }

    /// The maps against chance on one set of one grounding file at `eps`, with bootstrap
    /// intervals over test images (the resamples quantify uses by default); nil without records.
    public func groundingComparison(_ eps: Epsilon, _ role: GroundingRoleName, clean: Bool,
                                    subset: GroundingSubset = .all) -> GroundingComparisonRow? {
        guard let records = groundingRecords[eps.text], let record = records.first(where: { $0.role == role }), record.hasPartTruth,
              testImages > 0 else { return nil }
        let only = GroundingIntervals.images(subset, record: record, standard: records.first { $0.role == .standard })
        return GroundingIntervals.row(record, clean: clean, subset: subset, only: only, imageCount: testImages, settings: BootstrapSettings())
    }

    public func accuracy(_ classifier: Classifier, _ set: AccuracySet) -> [Double] { accuracy[classifier]![set]! }
}

/// "has_breast_color::red" → "breast color: red" (CUB-style names read as words).
public func displayAttribute(_ name: String) -> String {
    var text = name
    if text.hasPrefix("has_") { text.removeFirst(4) }
    text = text.replacingOccurrences(of: "::", with: ": ").replacingOccurrences(of: "_", with: " ")
    return text
}

/// "001.Black_footed_Albatross" → "Black footed Albatross".
public func displayClass(_ name: String) -> String {
    var text = Substring(name)
    if let dot = text.firstIndex(of: "."), text[..<dot].allSatisfy(\.isNumber) { text = text[text.index(after: dot)...] }
    return text.replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "+", with: " ")
}
