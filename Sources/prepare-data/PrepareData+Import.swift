import PipelineKit

extension PrepareData {
    /// Real-dataset import (cub, awa2, lad).
    func runImport() throws {
        throw StageError("prepare-data: the \(dataset.rawValue) importer is not in this build yet")
    }
}
