import ArgumentParser
import Foundation
import Grounding
import PipelineKit

/// Joins the part files of a sharded stage run into the artifact an unsharded run writes.
@main
struct MergeShards: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-shards",
        abstract: "Join the part files of a stage run with --shard i/n into one artifact.",
        discussion: """
            The parts (in any order) must be all n parts of one run: the same stage, parameters,
            seed and input files (each part records a fingerprint of them), and together exactly
            the rows 0..<N. Row datasets are concatenated as stored bytes, so the artifact's
            datasets equal an unsharded run's byte for byte; per-part summaries (counts,
            accuracies, the largest perturbation) are recombined, and summaries over all rows
            (ground's pointing accuracies, baselines, energy shares) recomputed from the merged
            datasets by the stage's own code. The provenance is the parts',
            with this command, and root attribute merged_from lists the parts (path, SHA-256,
            command). The output is written atomically; on any mismatch nothing is written.
            """)

    @Option(parsing: .upToNextOption, help: "The part files (written with --shard i/n), in any order.")
    var parts: [String]
    @Option(help: "The merged artifact.")
    var output: String
    @Flag(help: "Remove the part files after a successful merge.")
    var removeParts = false

    func validate() throws {
        guard !parts.isEmpty else { throw ValidationError("give the part files with --parts") }
        guard Set(parts).count == parts.count else { throw ValidationError("a part file is given twice in --parts") }
        guard !parts.contains(output) else { throw ValidationError("--output must not be one of the --parts") }
    }

    func run() throws {
        // Summaries over all rows that the stages compute from their datasets.
        let rows = try ShardMerge.merge(parts: parts, output: output,
                                        recompute: ["ground": { try GroundingFile.writeSummaries(in: $0) }])
        if removeParts { for part in parts { try? FileManager.default.removeItem(atPath: part) } }
        Log.info("merge-shards: \(parts.count) parts, \(rows) rows → \(output)")
    }
}
