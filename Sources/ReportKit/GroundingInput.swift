import Foundation
import Grounding
import PipelineKit

/// A grounding file (the ground stage's schema, read by Grounding's `GroundingContents`)
/// in its place in the report: which model and eps it grounds.
public struct GroundingFile: Sendable {
    public let role: GroundingRole
    public let eps: Epsilon
    public let contents: GroundingContents

    public var path: String { contents.path }
    public var index: [Int64] { contents.index }
    public var labels: [Int32] { contents.labels }
    public var topK: Int { contents.topK }
    public var method: String { contents.summary.method }
    public var hasPartTruth: Bool { contents.summary.hasPartTruth }
    public var clean: GroundedSet { contents.clean }
    public var adversarial: GroundedSet { contents.adversarial }

    /// Root summary attribute by name (pointing_accuracy_clean, baseline_random_adversarial, …); NaN when absent.
    public func summary(_ name: String) -> Double { contents.summary.value(named: name) }

    /// Row of image `imageIndex` (a row of images.h5), if the file holds it.
    public func row(of imageIndex: Int64) -> Int? { index.firstIndex(of: imageIndex) }

    public static func read(_ path: String, role: GroundingRole, eps: Epsilon) throws -> GroundingFile {
        GroundingFile(role: role, eps: eps, contents: try GroundingContents.read(path))
    }
}

/// The grounding of one dataset: not run at all, or every file for every eps.
public enum DatasetGrounding: Sendable {
    case notRun
    case present([Epsilon: [GroundingRole: GroundingFile]])

    /// Reads the layout's grounding files for every eps. No grounding file at all means the
    /// stage has not run (an error when `required`); some files missing is always an error
    /// naming the stage and the make target of the first missing file.
    public static func read(layout: DatasetLayout, eps: [Epsilon], required: Bool) throws -> DatasetGrounding {
        let paths = eps.flatMap { e in GroundingRole.allCases.map { (e, $0, layout.grounding($0, eps: e)) } }
        let present = paths.filter { FileManager.default.fileExists(atPath: $0.2) }
        if present.isEmpty && !required { return .notRun }
        if let missing = paths.first(where: { !FileManager.default.fileExists(atPath: $0.2) }) {
            throw StageError("\(missing.2): missing. The report needs the ground stage's grounding files; run `make \(missing.2)` "
                             + "(stage ground) first.")
        }
        var files: [Epsilon: [GroundingRole: GroundingFile]] = [:]
        for (e, role, path) in paths { files[e, default: [:]][role] = try GroundingFile.read(path, role: role, eps: e) }
        return .present(files)
    }

    public var hasPartTruth: Bool {
        guard case .present(let files) = self else { return false }
        return files.values.allSatisfy { $0.values.allSatisfy(\.hasPartTruth) }
    }
}
