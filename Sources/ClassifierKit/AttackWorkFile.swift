import Foundation
import HDF5Store
import PipelineKit

/// The resumable work of one attack run (`attack --resume`): a directory
/// (`OutputPaths.checkpoint(of: output)`) holding one small HDF5 file per finished batch,
/// `rows-<first row>.h5`, each written whole through `AtomicOutput` (partial file, checked
/// flush and close, rename). A kill, a full disk or any other failure therefore loses at
/// most the batch being written, and never leaves a half-written batch behind.
///
/// On resume the batches are checked in order before any is trusted: fingerprint (settings,
/// inputs and seed), the eight datasets present with the same row count, rows contiguous from
/// 0, `index` equal to the rows this run attacks, every value readable and matching the
/// batch's checksum (a damaged chunk fails here, not later). The first batch that fails the check is reported and removed with
/// everything after it, and the attack continues from there; a work directory made under
/// another fingerprint is discarded whole. Only the process holding the output's
/// `OutputLock` uses the directory, so anything else in it is debris of a killed run.
///
/// Each batch file holds `images` float32 [n, H, W, 3], `index` int64 [n], `labels`,
/// `clean_predictions`, `adv_predictions` int32 [n], `perturbation_norm`, `minimal_norm` float32 [n], `broken_by` int32 [n] and the attributes `fingerprint`,
/// `first_row`, `max_linf` and `checksum` (SHA-256 of the values).
public final class AttackWorkFile {
    /// The work directory.
    public let path: String
    public let fingerprint: String
    /// The rows of the source images.h5 this run attacks, in output order.
    public let indices: [Int]
    /// Side of the (square) images.
    public let imageSize: Int
    /// First row and row count of each finished batch, in order.
    public private(set) var batches: [(first: Int, count: Int)] = []

    /// Rows finished so far (the attack continues with `indices[rowsDone...]`).
    public var rowsDone: Int { batches.last.map { $0.first + $0.count } ?? 0 }

    static let datasets = ["images", "index", "labels", "clean_predictions", "adv_predictions", "perturbation_norm",
                           "minimal_norm", "broken_by"]

    /// Opens the work directory at `path`. With `resume`, keeps the finished batches that
    /// pass the checks (printing why any were dropped); otherwise starts empty.
    public init(path: String, fingerprint: String, indices: [Int], imageSize: Int, resume: Bool) throws {
        self.path = path
        self.fingerprint = fingerprint
        self.indices = indices
        self.imageSize = imageSize
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if !isDirectory.boolValue {
                // The single-file work file of earlier versions: it cannot be checked batch by batch.
                if resume { Log.warning("\(path) is a work file of an earlier version; starting afresh") }
                try removeAll()
            } else if resume {
                try loadFinishedBatches()
            } else {
                try removeAll()
            }
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The file of the batch starting at row `first`.
    func batchPath(_ first: Int) -> String {
        OutputPaths.join(path, String(format: "rows-%09d.h5", first))
    }

    /// Records one finished batch, the rows `indices[rowsDone..<rowsDone + rows.count]`.
    public func append(_ rows: AdversarialRows) throws {
        let first = rowsDone
        guard rows.count > 0, first + rows.count <= indices.count,
              rows.index == indices[first..<(first + rows.count)].map(Int64.init) else {
            throw StageError("\(path): a batch must continue at row \(first) of \(indices.count) with the rows in order")
        }
        try AtomicOutput.write(to: batchPath(first)) { temporary in
            let file = try H5File.create(temporary)
            defer { file.close() }
            try file.write("images", rows.images, shape: [rows.count, imageSize, imageSize, 3], compress: true)
            try file.write("index", rows.index, shape: [rows.count])
            try file.write("labels", rows.labels, shape: [rows.count])
            try file.write("clean_predictions", rows.cleanPredictions, shape: [rows.count])
            try file.write("adv_predictions", rows.advPredictions, shape: [rows.count])
            try file.write("perturbation_norm", rows.perturbationNorm, shape: [rows.count])
            try file.write("minimal_norm", rows.minimalNorm, shape: [rows.count])
            try file.write("broken_by", rows.brokenBy, shape: [rows.count])
            try file.setAttribute("fingerprint", .string(fingerprint))
            try file.setAttribute("first_row", .int(Int64(first)))
            try file.setAttribute("max_linf", .double(Double(rows.maxDistance)))
            try file.setAttribute("checksum", .string(Self.checksum(rows)))
            try file.flushAndClose()
        }
        batches.append((first, rows.count))
    }

    /// Reads the finished batch starting at `first`, checking it against this run.
    public func rows(startingAt first: Int) throws -> AdversarialRows {
        let file = try H5File.open(batchPath(first))
        defer { file.close() }
        guard (try? file.attribute("fingerprint").stringValue) == fingerprint else {
            throw StageError("\(file.path): made with other settings, inputs or seed")
        }
        let shapes = try Self.datasets.map { name -> [Int] in
            guard file.isDataset(name) else { throw StageError("\(file.path): dataset '\(name)' is missing") }
            return try file.shape(name)
        }
        let count = shapes[0].first ?? 0
        guard count > 0, shapes.allSatisfy({ $0.first == count }) else {
            throw StageError("\(file.path): the datasets have different row counts \(shapes.map { $0.first ?? 0 })")
        }
        guard shapes[0] == [count, imageSize, imageSize, 3] else {
            throw StageError("\(file.path): images has shape \(shapes[0]), expected [\(count), \(imageSize), \(imageSize), 3]")
        }
        guard first + count <= indices.count else {
            throw StageError("\(file.path): rows \(first)..<\(first + count) go past the \(indices.count) rows of this attack")
        }
        let index = try file.read("index", as: Int64.self).data
        guard index == indices[first..<(first + count)].map(Int64.init) else {
            throw StageError("\(file.path): index does not hold the rows this attack expects at \(first)..<\(first + count)")
        }
        let rows = AdversarialRows(
            images: try file.read("images", as: Float.self).data, index: index,
            labels: try file.read("labels", as: Int32.self).data,
            cleanPredictions: try file.read("clean_predictions", as: Int32.self).data,
            advPredictions: try file.read("adv_predictions", as: Int32.self).data,
            perturbationNorm: try file.read("perturbation_norm", as: Float.self).data,
            minimalNorm: try file.read("minimal_norm", as: Float.self).data,
            brokenBy: try file.read("broken_by", as: Int32.self).data,
            maxDistance: Float(try file.attribute("max_linf").doubleValue ?? .nan))
        guard rows.maxDistance.isFinite else { throw StageError("\(file.path): attribute max_linf is missing") }
        guard (try? file.attribute("checksum").stringValue) == Self.checksum(rows) else {
            throw StageError("\(file.path): the data do not match their checksum (damaged file)")
        }
        return rows
    }

    /// SHA-256 of every value and of max_linf: damage in uncompressed data (which HDF5 reads
    /// back without complaint) is caught too.
    static func checksum(_ rows: AdversarialRows) -> String {
        var hash = SHA256()
        rows.images.withUnsafeBytes { hash.update($0) }
        rows.index.withUnsafeBytes { hash.update($0) }
        rows.labels.withUnsafeBytes { hash.update($0) }
        rows.cleanPredictions.withUnsafeBytes { hash.update($0) }
        rows.advPredictions.withUnsafeBytes { hash.update($0) }
        rows.perturbationNorm.withUnsafeBytes { hash.update($0) }
        rows.minimalNorm.withUnsafeBytes { hash.update($0) }
        rows.brokenBy.withUnsafeBytes { hash.update($0) }
        withUnsafeBytes(of: rows.maxDistance) { hash.update($0) }
        return hash.finalizeHex()
    }

    /// Appends every finished batch, in order, to the final file's writer.
    public func copy(into writer: AdversarialWriter) throws {
        for batch in batches { try writer.append(try rows(startingAt: batch.first)) }
    }

    /// Removes the work directory (after the output is in place, or to start afresh).
    public func removeAll() throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw StageError("\(path): cannot remove the attack's work directory: \(error.localizedDescription)")
        }
        batches = []
    }

    /// Keeps the valid prefix of the batches found on disk (see the type's description).
    private func loadFinishedBatches() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        var starts: [Int: String] = [:]
        for name in names {
            if name.hasPrefix("rows-"), name.hasSuffix(".h5"), let first = Int(name.dropFirst(5).dropLast(3)) {
                starts[first] = name
            } else {
                // Partial files of a killed run (only the lock holder writes here).
                try? FileManager.default.removeItem(atPath: OutputPaths.join(path, name))
                Log.info("removed \(OutputPaths.join(path, name)), left by an interrupted attack")
            }
        }
        var problem: String?
        while problem == nil, let name = starts[rowsDone] {
            do {
                let rows = try rows(startingAt: rowsDone)
                starts[rowsDone] = nil
                batches.append((rowsDone, rows.count))
            } catch {
                problem = "\(OutputPaths.join(path, name)) cannot be resumed (\(error))"
            }
        }
        if let problem, batches.isEmpty, problem.contains("other settings, inputs or seed") {
            Log.warning("\(path) was made with other settings, inputs or seed; starting afresh")
        } else if let problem {
            Log.warning("\(problem); continuing from row \(rowsDone)")
        } else if !starts.isEmpty {
            Log.warning("\(path): batches after row \(rowsDone) do not continue the finished rows; continuing from row \(rowsDone)")
        }
        for name in starts.values { try? FileManager.default.removeItem(atPath: OutputPaths.join(path, name)) }
        if !batches.isEmpty { Log.info("resuming \(path) after \(rowsDone) of \(indices.count) images") }
    }
}
