import Foundation
import HDF5Store
import PipelineKit

/// Which model's grounding: the standard or robust model on its own (white-box) adversarials,
/// or the robust model on the standard model's adversarials (transfer).
public enum GroundingRole: String, CaseIterable, Sendable {
    case standard, robust, transfer

    /// The grounding file's name for `eps` (`grounding/<name>.h5`).
    public func fileName(eps: String) -> String {
        switch self {
        case .standard: return "standard-eps\(eps)"
        case .robust: return "robust-eps\(eps)-eps\(eps)"
        case .transfer: return "robust-eps\(eps)-transfer-eps\(eps)"
        }
    }

    public var display: String {
        switch self {
        case .standard: return "standard model"
        case .robust: return "robust model (white-box)"
        case .transfer: return "robust model on the standard model's adversarials"
        }
    }
}

/// One image set (clean or adversarial) of a grounding file.
public struct GroundedSet: Sendable {
    /// Attribute-based class (argmax_y Aᵀφ(y)) and the CNN's class, per row.
    public let predictions: [Int32]
    public let generalPredictions: [Int32]
    /// [N, k] attribute ids, ranked (eq. 7 on clean, eq. 8 on adversarial).
    public let attributes: [Int32]
    /// [N, k, 2] (row, column) in image pixels.
    public let peaks: [Float]
    /// [N, k] 0/1.
    public let grounded: [UInt8]
    /// [N, k, h, w] at feature resolution.
    public let maps: [Float]
    public let mapHeight: Int
    public let mapWidth: Int
}

/// A grounding file (the ground stage's schema), as far as the report uses it.
public struct GroundingFile: Sendable {
    public let path: String
    public let role: GroundingRole
    public let eps: String
    public let index: [Int64]
    public let labels: [Int32]
    public let topK: Int
    public let method: String
    public let hasPartTruth: Bool
    public let clean: GroundedSet
    public let adversarial: GroundedSet
    /// Root summary attributes by name (pointing_accuracy_clean, baseline_random_adversarial, …); NaN when absent.
    public let summaries: [String: Double]

    public static let summaryNames: [String] = {
        var names: [String] = []
        for set in ["clean", "adversarial"] {
            names += ["pointing_accuracy_\(set)", "grounded_fraction_\(set)", "baseline_random_\(set)",
                      "baseline_centre_\(set)", "baseline_box_centre_\(set)"]
        }
        return names
    }()

    public func summary(_ name: String) -> Double { summaries[name] ?? .nan }

    /// Row of image `imageIndex` (a row of images.h5), if the file holds it.
    public func row(of imageIndex: Int64) -> Int? { index.firstIndex(of: imageIndex) }

    public static func read(_ path: String, role: GroundingRole, eps: String) throws -> GroundingFile {
        let file = try H5File.open(path)
        defer { file.close() }
        let index = try file.read("index", as: Int64.self, expectingShape: [nil]).data
        let n = index.count
        let labels = try file.read("labels", as: Int32.self, expectingShape: [n]).data
        let topK = Int(try file.attribute("top_k").doubleValue ?? 0)
        func set(_ name: String) throws -> GroundedSet {
            let attributes = try file.read("\(name)/attributes", as: Int32.self, expectingShape: [n, nil])
            let k = attributes.shape[1]
            let maps = try file.read("\(name)/maps", as: Float.self, expectingShape: [n, k, nil, nil])
            return GroundedSet(predictions: try file.read("\(name)/predictions", as: Int32.self, expectingShape: [n]).data,
                               generalPredictions: try file.read("\(name)/general_predictions", as: Int32.self, expectingShape: [n]).data,
                               attributes: attributes.data,
                               peaks: try file.read("\(name)/peaks", as: Float.self, expectingShape: [n, k, 2]).data,
                               grounded: try file.read("\(name)/grounded", as: UInt8.self, expectingShape: [n, k]).data,
                               maps: maps.data, mapHeight: maps.shape[2], mapWidth: maps.shape[3])
        }
        var summaries: [String: Double] = [:]
        for name in summaryNames where file.hasAttribute(name) {
            summaries[name] = try file.attribute(name).doubleValue ?? .nan
        }
        let clean = try set("clean"), adversarial = try set("adversarial")
        return GroundingFile(path: path, role: role, eps: eps, index: index, labels: labels,
                             topK: topK > 0 ? topK : clean.attributes.count / max(n, 1),
                             method: try file.attribute("method").stringValue ?? "",
                             hasPartTruth: (try file.attribute("has_part_truth").doubleValue ?? 0) == 1,
                             clean: clean, adversarial: adversarial, summaries: summaries)
    }
}

/// The grounding of one dataset: not run at all, or every file for every eps.
public enum DatasetGrounding: Sendable {
    case notRun
    case present([String: [GroundingRole: GroundingFile]])

    /// Reads `<dir>/grounding/*` for every eps. No grounding folder means the stage has not
    /// run (an error when `required`); a folder with some files missing is always an error
    /// naming the stage and the make target of the first missing file.
    public static func read(directory: String, eps: [String], required: Bool) throws -> DatasetGrounding {
        let folder = "\(directory)/grounding"
        let paths = eps.flatMap { e in GroundingRole.allCases.map { (e, $0, "\(folder)/\($0.fileName(eps: e)).h5") } }
        let present = paths.filter { FileManager.default.fileExists(atPath: $0.2) }
        if present.isEmpty && !required { return .notRun }
        if let missing = paths.first(where: { !FileManager.default.fileExists(atPath: $0.2) }) {
            throw StageError("\(missing.2): missing. The report needs the ground stage's grounding files; run `make \(missing.2)` "
                             + "(stage ground) first.")
        }
        var files: [String: [GroundingRole: GroundingFile]] = [:]
        for (e, role, path) in paths { files[e, default: [:]][role] = try GroundingFile.read(path, role: role, eps: e) }
        return .present(files)
    }

    public var hasPartTruth: Bool {
        guard case .present(let files) = self else { return false }
        return files.values.allSatisfy { $0.values.allSatisfy(\.hasPartTruth) }
    }
}
