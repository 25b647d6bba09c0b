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

    /// Describes the run; input files are hashed here, so a missing input fails before any output exists.
    public init(stage: String, output: String, seed: UInt64, parameters: [String: Any], inputs: [String]) throws {
        for input in inputs where !FileManager.default.fileExists(atPath: input) {
            throw StageError("\(input): input file does not exist (needed by \(stage))")
        }
        self.output = output
        self.provenance = try Provenance.make(stage: stage, parameters: parameters, inputs: inputs, seed: seed)
    }

    /// A digest of the run's parameters and input hashes: a checkpoint written under
    /// another fingerprint belongs to other settings or inputs and must not be resumed.
    public var fingerprint: String {
        SHA256.hex(Array((provenance.parameters + provenance.inputs.map(\.sha256).joined()).utf8))
    }

    /// Runs `body` on the temporary file and publishes it on success.
    @discardableResult
    public func run<R>(_ body: (H5File) throws -> R) throws -> R {
        try AtomicOutput.write(to: output) { temporaryPath in
            let file = try H5File.create(temporaryPath)
            defer { file.close() }
            let result = try body(file)
            try provenance.write(to: file)
            file.close()
            return result
        }
    }
}
