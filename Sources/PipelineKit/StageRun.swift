import Foundation
import HDF5Store

/// One run of a stage that writes one HDF5 artifact: hashes the inputs, runs the body
/// against a file at a temporary path, stamps provenance, closes, and renames onto
/// `output`. If anything throws (or the process is interrupted) nothing is left at
/// `output` and an existing file there is untouched.
///
/// ```swift
/// try StageRun(stage: "attack", output: output, seed: common.seed,
///              parameters: ["eps": eps], inputs: [images, model]).run { file in
///     try file.write("labels", labels, shape: [labels.count])
/// }
/// ```
public struct StageRun {
    public let output: String
    public let provenance: Provenance
    /// Set when the run is one part of a sharded run (`--shard i/n`): the output is then a
    /// part file that records its rows and how `merge-shards` joins it with its siblings.
    public let shard: ShardPlan?

    /// Describes the run, before the stage touches its output or checkpoint: refuses an
    /// output that is one of the inputs, takes the output's lock (`OutputLock`, held until
    /// the process exits; a second run on the same output fails here), removes partial
    /// files that killed runs left for this output, and hashes the inputs (so a missing
    /// input fails before any output exists).
    ///
    /// `claimsOutput: false` (the non-zero ranks of a data-parallel run, which never write)
    /// skips the lock and the sweep: rank 0 holds them.
    public init(stage: String, output: String, seed: UInt64, parameters: [String: Any], inputs: [String],
                shard: ShardPlan? = nil, claimsOutput: Bool = true) throws {
        for input in inputs {
            var status = stat()
            guard stat(input, &status) == 0 else { throw StageError("\(input): input file does not exist (needed by \(stage))") }
            // Hashing a FIFO or a device would block or never end.
            guard (status.st_mode & S_IFMT) == S_IFREG else {
                throw StageError("\(input): input is not a regular file (a directory, FIFO, socket or device); \(stage) needs a file")
            }
        }
        try Self.checkOutputIsNotAnInput(output, inputs: inputs)
        if claimsOutput { try Self.claim(output) }
        self.output = output
        self.provenance = try Provenance.make(stage: stage, parameters: parameters, inputs: inputs, seed: seed)
        self.shard = shard
    }

    /// A run with a provenance made elsewhere (merge-shards writes its parts' provenance).
    public init(output: String, provenance: Provenance) {
        self.output = output
        self.provenance = provenance
        self.shard = nil
    }

    /// Takes the output's lock, installs the interrupt handlers and sweeps partial files of
    /// killed runs (see `init`); idempotent.
    static func claim(_ output: String) throws {
        try OutputLock.acquire(for: output)
        // Now, not with the first partial file: libdispatch installs the SIGINT/SIGTERM
        // handler asynchronously, and a signal in that window would be ignored.
        PartialFiles.install()
        OutputPaths.sweepStalePartials(of: output)
        OutputPaths.sweepStalePartials(of: OutputPaths.checkpoint(of: output))
    }

    /// Throws if `output` names the same file as one of `inputs` (compared by device and
    /// inode, so `./x`, symbolic links and hard links are caught): publishing would replace
    /// the input. A file name too long for the file system is refused here too.
    /// An output that ends in `/` or names an existing directory is refused here too, before
    /// the stage computes anything (its rename would fail at the very end).
    public static func checkOutputIsNotAnInput(_ output: String, inputs: [String]) throws {
        guard !output.isEmpty, !OutputPaths.fileName(of: output).isEmpty else {
            throw StageError("\(output): the output must name a file, not a directory (remove the trailing '/')")
        }
        guard OutputPaths.fileName(of: output).utf8.count <= Int(NAME_MAX) else {
            throw StageError("\(output): the output file name is longer than \(NAME_MAX) bytes")
        }
        var target = stat()
        guard stat(output, &target) == 0 else { return }  // nothing there yet: cannot be an input
        guard (target.st_mode & S_IFMT) != S_IFDIR else {
            throw StageError("\(output): the output is an existing directory; give a file name")
        }
        for input in inputs {
            var source = stat()
            if stat(input, &source) == 0, source.st_dev == target.st_dev, source.st_ino == target.st_ino {
                throw StageError("\(output): the output is the input \(input); "
                                 + "writing it would destroy the input, choose another --output")
            }
        }
    }

    /// A digest of the run's parameters, seed, input hashes and shard: a checkpoint written
    /// under another fingerprint belongs to other settings, inputs, seed or rows and must not
    /// be resumed.
    public var fingerprint: String {
        Self.fingerprint(of: provenance, shard: shard?.shard)
    }

    /// `fingerprint` for a provenance; unsharded runs and `merge-shards` pass no shard.
    public static func fingerprint(of provenance: Provenance, shard: Shard? = nil) -> String {
        let text = provenance.parameters + "seed=\(provenance.seed);" + provenance.inputs.map(\.sha256).joined()
            + (shard.map { "shard \($0)" } ?? "")
        return SHA256.hex(Array(text.utf8))
    }

    /// A digest of everything that makes parts of one run belong together: stage, version,
    /// parameters, seed and input contents, but not the shard.
    public static func partFingerprint(of provenance: Provenance) -> String {
        let text = [provenance.stage, provenance.version, provenance.parameters, String(provenance.seed)]
            + provenance.inputs.map(\.sha256)
        return SHA256.hex(Array(text.joined(separator: "\n").utf8))
    }

    /// Writes the provenance attributes and, for a part, its `shard` description.
    public func stamp(_ file: H5File) throws {
        try provenance.write(to: file)
        if let shard {
            let rows = shard.rows
            try ShardPart(index: shard.shard.index, count: shard.shard.count, rows: [rows.lowerBound, rows.upperBound],
                          total: shard.total, batch: shard.batch, fingerprint: Self.partFingerprint(of: provenance),
                          rowDatasets: shard.rowDatasets, combine: shard.combine).write(to: file)
        }
    }

    /// Runs `body` on the temporary file and publishes it on success. The file is flushed
    /// and closed with its status checked first: a file HDF5 could not write out completely
    /// (full disk) is discarded, never renamed into place.
    @discardableResult
    public func run<R>(_ body: (H5File) throws -> R) throws -> R {
        try Self.claim(output)  // already done by `init(stage:…)`; not by `init(output:provenance:)`
        return try AtomicOutput.write(to: output) { try write(to: $0, body) }
    }

    /// Writes the artifact to `temporaryPath` (body, provenance, flush and close, status
    /// checked) without publishing it: for a stage whose outputs are published together
    /// (`OutputSet`), the caller renames it.
    @discardableResult
    public func write<R>(to temporaryPath: String, _ body: (H5File) throws -> R) throws -> R {
        let file = try H5File.create(temporaryPath)
        defer { file.close() }
        let result = try body(file)
        try stamp(file)
        try file.flushAndClose()
        return result
    }
}
