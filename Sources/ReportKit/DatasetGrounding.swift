import Foundation
import Grounding
import PipelineKit

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
        // Each file in its slot (made by that model from this directory's files), as quantify checks.
        try ProvenanceChain().requireGroundingInSlots(eps: eps, layout: layout)
        var files: [Epsilon: [GroundingRole: GroundingFile]] = [:]
        for (e, role, path) in paths { files[e, default: [:]][role] = try GroundingFile.read(path) }
        return .present(files)
    }

    public var hasPartTruth: Bool {
        guard case .present(let files) = self else { return false }
        return files.values.allSatisfy { $0.values.allSatisfy(\.hasPartTruth) }
    }
}
