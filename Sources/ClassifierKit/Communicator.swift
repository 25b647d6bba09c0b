import Foundation
import NeuralNet
import PipelineKit

/// The ranks of a data-parallel training job, as `TrainingLoop` needs them: sums (for the
/// engine's synchronised batch norm and gradients), an all-gather for start-up checks,
/// and the end of the job. `MessagePassing.MPICommunicator` implements it over MPI; a
/// plain launch has no communicator at all.
public protocol Communicator: ReplicaGroup {
    /// This process's rank, 0..<replicaCount; rank 0 writes every file.
    var rank: Int { get }
    /// Every rank's `bytes` (the same length on every rank), by rank.
    func allGather(_ bytes: [UInt8]) -> [[UInt8]]
    /// Ends the job's communication (after the last collective).
    func finish()
}

extension Communicator {
    /// The contiguous slice `rank` of `count` items split as evenly as possible over the ranks.
    public func slice(of count: Int) -> Range<Int> {
        (rank * count / replicaCount)..<((rank + 1) * count / replicaCount)
    }

    /// Refuses to start unless every rank runs the same executable (SHA-256 of its file)
    /// with the same settings and inputs (`runFingerprint`, e.g. `StageRun.fingerprint`).
    public func requireSameRun(stage: String, runFingerprint: String) throws {
        let executable = try SHA256.hex(ofFile: "/proc/self/exe")
        let mine = Array((executable + SHA256.hex(Array(runFingerprint.utf8))).utf8)
        for (other, theirs) in allGather(mine).enumerated() where theirs != mine {
            let what = theirs.prefix(64) != mine.prefix(64) ? "a different executable" : "different settings or inputs"
            throw StageError("\(stage): rank \(other) of \(replicaCount) runs \(what) than rank \(rank) "
                             + "(start-up fingerprints differ); every rank must run the same binary with the same options "
                             + "and input files — refusing to train")
        }
    }
}
