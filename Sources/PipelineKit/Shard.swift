import ArgumentParser
import Foundation
import HDF5Store

/// Part `index` of `count` of a per-row stage's work (`--shard i/n`): a contiguous range
/// of the rows the stage would process unsharded (the split's images, the adversarial
/// file's rows, the features file's rows). The ranges in index order tile the rows
/// exactly, so `merge-shards` can rebuild the unsharded artifact by concatenation. They
/// are cut at whole batches of the stage's batch size: a part then computes exactly the
/// batches an unsharded run computes (GEMM blocking depends on the batch, so other cuts
/// could change the last bits of features), and parts are balanced to within one batch.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(index), "shard \(index)/\(count) out of range")
        self.index = index
        self.count = count
    }

    /// Parses `i/n` with 0 ≤ i < n; anything else is a usage error that says what is wrong.
    public init(parsing text: String) throws {
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count == 2, let index = Int(pieces[0]), let count = Int(pieces[1]) else {
            throw ValidationError("--shard must be i/n (part i of n, counted from 0), got '\(text)'")
        }
        guard count >= 1 else { throw ValidationError("--shard \(text): the number of parts must be at least 1") }
        guard (0..<count).contains(index) else {
            throw ValidationError("--shard \(text): the part must be in 0..<\(count) (parts are counted from 0)")
        }
        self.init(index: index, count: count)
    }

    /// This part's rows of `total` when they are processed `batch` at a time: the part
    /// takes batches [⌊B·i/n⌋, ⌊B·(i+1)/n⌋) of the B = ⌈total/batch⌉ batches.
    public func rows(of total: Int, batch: Int = 1) -> Range<Int> {
        precondition(batch >= 1, "batch size must be at least 1")
        let batches = (total + batch - 1) / batch
        return Swift.min(total, batches * index / count * batch)..<Swift.min(total, batches * (index + 1) / count * batch)
    }

    public var description: String { "\(index)/\(count)" }
}

/// `--shard i/n` for a stage: `@OptionGroup var sharding: ShardOptions`.
public struct ShardOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Process only part i of n (0 ≤ i < n): a contiguous range of the rows. The output is then a part file; merge-shards joins the parts into the artifact an unsharded run writes.",
                               valueName: "i/n"))
    public var shard: String?

    public init() {}

    /// The parsed shard, or nil when the whole input is processed.
    public var value: Shard? { shard.flatMap { try? Shard(parsing: $0) } }

    public func validate() throws {
        if let shard { _ = try Shard(parsing: shard) }
    }

    /// The rows to process of `total` in batches of `batch`: the shard's range, or all of them.
    public func rows(of total: Int, batch: Int = 1) -> Range<Int> {
        value?.rows(of: total, batch: batch) ?? 0..<total
    }
}

/// How `merge-shards` combines a root attribute whose value differs between parts (a
/// per-part summary). Attributes without a rule must be equal in every part.
public enum ShardCombine: Codable, Equatable, Sendable {
    /// The sum over parts (counts).
    case sum
    /// The largest value (e.g. the largest perturbation).
    case max
    /// The smallest value.
    case min
    /// The merged value of another attribute divided by the total row count (an accuracy
    /// from a count), computed exactly as the unsharded run computes it.
    case perRow(of: String)
    /// The unsharded run's `StageRun.fingerprint` (parts record their shard in theirs).
    case runFingerprint
    /// Computed from the merged datasets by the stage's own summary code, which
    /// merge-shards hands to `ShardMerge.merge` (a summary over all rows that the parts'
    /// values cannot give, e.g. ground's accuracies and energy shares).
    case recomputed
}

/// What a part file records about itself (root attribute `shard`, JSON), so `merge-shards`
/// can check that parts belong together and rebuild the artifact.
public struct ShardPart: Codable, Equatable {
    public var index: Int
    public var count: Int
    /// This part's rows of the unsharded input, [start, end).
    public var rows: [Int]
    /// The unsharded input's row count.
    public var total: Int
    /// The batch size the part boundaries are aligned to.
    public var batch: Int
    /// Digest of the stage, its parameters, seed and input contents (the shard left out):
    /// parts with different fingerprints come from different runs and must not be merged.
    public var fingerprint: String
    /// Datasets with one row per processed row, concatenated in part order; every other
    /// dataset must be the same in every part.
    public var rowDatasets: [String]
    /// Root attributes that differ per part, and how to combine them.
    public var combine: [String: ShardCombine]

    enum CodingKeys: String, CodingKey {
        case index, count, rows, total, batch, fingerprint, combine
        case rowDatasets = "row_datasets"
    }

    /// The part's rows as a range.
    public var range: Range<Int> { rows[0]..<rows[1] }

    /// The name of the root attribute holding the JSON.
    public static let attributeName = "shard"

    /// Reads the `shard` attribute of a part file; a file without it is not a part.
    public static func read(from file: H5File) throws -> ShardPart {
        guard file.hasAttribute(attributeName) else {
            throw StageError("\(file.path): not a part file (no root attribute '\(attributeName)'; was it written with --shard?)")
        }
        guard let text = try file.attribute(attributeName).stringValue,
              let part = try? JSONDecoder().decode(ShardPart.self, from: Data(text.utf8)),
              part.rows.count == 2, part.rows[0] <= part.rows[1] else {
            throw StageError("\(file.path): root attribute '\(attributeName)' is not a valid part description")
        }
        return part
    }

    func write(to file: H5File) throws {
        let json = try JSONEncoder.sorted.encode(self)
        try file.setAttribute(Self.attributeName, .string(String(decoding: json, as: UTF8.self)))
    }
}

/// What a sharded stage tells `StageRun`: which part it is, of how many rows, and how its
/// part file is merged.
public struct ShardPlan {
    public let shard: Shard
    public let total: Int
    public let batch: Int
    public let rowDatasets: [String]
    public let combine: [String: ShardCombine]

    /// Part `shard` of `total` rows processed `batch` at a time; `rowDatasets` and `combine`
    /// as in `ShardPart`.
    public init(shard: Shard, total: Int, batch: Int, rowDatasets: [String], combine: [String: ShardCombine] = [:]) {
        self.shard = shard
        self.total = total
        self.batch = batch
        self.rowDatasets = rowDatasets
        self.combine = combine
    }

    public var rows: Range<Int> { shard.rows(of: total, batch: batch) }
}
