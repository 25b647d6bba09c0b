import Foundation

/// quantify's metrics.h5 and metrics.json are one result: metrics.json records the SHA-256
/// of the metrics.h5 written with it (`metrics_h5_sha256`), and readers refuse a pair that
/// differs (a run killed between the two renames, or one file replaced by another run's).
public enum MetricsPair {
    /// Throws unless `recorded` (read from `jsonPath`) is the digest of the file at `h5Path`.
    public static func check(h5Path: String, recorded: String?, jsonPath: String) throws {
        let rerun = "remove both and run `make \(h5Path)` (stage quantify)"
        guard let recorded else {
            throw StageError("\(jsonPath): no \"metrics_h5_sha256\": it was not written with \(h5Path) by this quantify; \(rerun)")
        }
        let actual = try FileDigests.shared.sha256(h5Path)
        guard recorded == actual else {
            throw StageError("\(jsonPath) and \(h5Path) are not from one quantify run: metrics.json records SHA-256 "
                             + "\(recorded.prefix(12))… for metrics.h5, which is \(actual.prefix(12))… (a run was interrupted "
                             + "between them, or one was replaced); \(rerun)")
        }
    }
}
