import Foundation
import Randomness

/// One run (one seed of one dataset) with a weight per test image: all ones for the run as
/// measured, multinomial counts for a bootstrap resample. Every statistic of a claim is a
/// function of weighted runs, so a resample recomputes the whole statistic (which images
/// qualify for a study, the accuracies, the ratios).
public struct WeightedRun: Sendable {
    public let document: MetricsDocument
    public let weights: [Double]

    public init(_ document: MetricsDocument, weights: [Double]? = nil) {
        self.document = document
        self.weights = weights ?? [Double](repeating: 1, count: document.testImages)
    }

    /// A resample of the test images with replacement.
    static func resample(_ document: MetricsDocument, rng: inout SplitMix) -> WeightedRun {
        WeightedRun(document, weights: ImageBootstrap.resampleCounts(document.testImages, rng: &rng))
    }

    /// Weighted share of `items` (each an image with a 0/1 outcome); NaN with no weight.
    func share<S: Sequence>(_ items: S, image: (S.Element) -> Int, _ yes: (S.Element) -> Bool) -> Double {
        var total = 0.0, hits = 0.0
        for item in items {
            let w = weights[image(item)]
            total += w
            if yes(item) { hits += w }
        }
        return total > 0 ? hits / total : .nan
    }
}

/// Bootstrap settings: resamples and their seed (the same resamples for every claim).
public struct BootstrapSettings: Codable, Sendable, Equatable {
    public var resamples: Int
    public var seed: UInt64
    /// Share of resamples on which a statistic must be defined for its interval to count.
    public static let minimumDefined = 0.95
    public init(resamples: Int = 2000, seed: UInt64 = 20) { self.resamples = resamples; self.seed = seed }
}

/// A part of a claim: what is estimated, the criterion, and the statistic over one
/// weighted run per role (one dataset, or fine then coarse).
public struct ClaimPart: Sendable {
    public let label: String
    public let criterion: Criterion
    public let unit: Estimate.Unit
    public let statistic: @Sendable ([WeightedRun]) -> Double
    /// Extra evidence printed beside the estimate (e.g. the ratio behind a difference).
    public let note: (@Sendable ([WeightedRun]) -> String?)?

    public init(_ label: String, _ criterion: Criterion, unit: Estimate.Unit = .percent,
                note: (@Sendable ([WeightedRun]) -> String?)? = nil, _ statistic: @escaping @Sendable ([WeightedRun]) -> Double) {
        self.label = label; self.criterion = criterion; self.unit = unit; self.statistic = statistic; self.note = note
    }
}

enum Statistics {
    static func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }

    static func sd(_ xs: [Double]) -> Double {
        guard xs.count > 1 else { return .nan }
        let m = mean(xs)
        return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)).squareRoot()
    }

    /// Quantile q of sorted values (linear interpolation between order statistics).
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let h = q * Double(sorted.count - 1)
        let lo = Int(h.rounded(.down)), hi = min(sorted.count - 1, lo + 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }
}

/// Estimates the parts of a claim on groups of runs (one group per role; a group holds the
/// seeds of one dataset). The value is the mean over seeds (fine and coarse seeds paired in
/// order); the interval a percentile bootstrap that draws, per resample, the seeds of each
/// group with replacement (when there are several) and then the test images of each drawn run.
public func estimate(_ parts: [ClaimPart], groups: [[MetricsDocument]], settings: BootstrapSettings) -> [Estimate] {
    let m = groups.map(\.count).max() ?? 0
    guard m > 0, groups.allSatisfy({ !$0.isEmpty }) else { return [] }
    // The runs as measured, paired by position.
    let measured = (0..<m).map { k in groups.map { WeightedRun($0[k % $0.count]) } }
    let perSeed = parts.map { part in measured.map { part.statistic($0) } }
    var replicates = [[Double]](repeating: [], count: parts.count)
    for b in 0..<settings.resamples {
        var rng = SplitMix(seed: settings.seed, stream: UInt64(b))
        let drawn: [[WeightedRun]] = groups.map { group in
            (0..<group.count).map { _ in
                let seed = group.count > 1 ? min(group.count - 1, Int(rng.uniform() * Double(group.count))) : 0
                return WeightedRun.resample(group[seed], rng: &rng)
            }
        }
        let runs = (0..<m).map { k in drawn.map { $0[k % $0.count] } }
        for (p, part) in parts.enumerated() {
            replicates[p].append(Statistics.mean(runs.map { part.statistic($0) }))
        }
    }
    return parts.enumerated().map { p, part in
        let values = perSeed[p]
        let value = values.allSatisfy(\.isFinite) ? Statistics.mean(values) : .nan
        let finite = replicates[p].filter(\.isFinite).sorted()
        let undefined = settings.resamples - finite.count
        var note = part.note?(measured[0])
        var lower = Double.nan, upper = Double.nan
        if !value.isFinite {
            note = "undefined on the run itself" + (note.map { "; \($0)" } ?? "")
        } else if Double(finite.count) < BootstrapSettings.minimumDefined * Double(settings.resamples) {
            note = "undefined on \(undefined) of \(settings.resamples) resamples" + (note.map { "; \($0)" } ?? "")
        } else {
            lower = Statistics.quantile(finite, 0.025)
            upper = Statistics.quantile(finite, 0.975)
        }
        let verdict = value.isFinite ? part.criterion.verdict(lower: lower, upper: upper) : .undetermined
        return Estimate(label: part.label, value: value, lower: lower, upper: upper, criterion: part.criterion, verdict: verdict,
                        perSeed: values, seedDeviation: Statistics.sd(values), resamples: settings.resamples, undefinedResamples: undefined,
                        note: note, unit: part.unit)
    }
}

/// The percentile bootstrap over test images on its own, for statistics that are not claims
/// (the grounding table's comparisons): the same resampling as `estimate`, one stream per
/// resample from `BootstrapSettings.seed`.
public enum ImageBootstrap {
    /// Multinomial counts of `n` images drawn with replacement (one resample's weights).
    public static func resampleCounts(_ n: Int, rng: inout SplitMix) -> [Double] {
        var counts = [Double](repeating: 0, count: n)
        for _ in 0..<n { counts[min(n - 1, Int(rng.uniform() * Double(n)))] += 1 }
        return counts
    }

    /// A statistic's value on the images as measured (all weights 1) and its 95% percentile
    /// interval over `settings.resamples` resamples of the `imageCount` images. The interval
    /// is NaN when the value is, or when the statistic is undefined on more than
    /// 1 − `BootstrapSettings.minimumDefined` of the resamples.
    public static func interval(imageCount: Int, settings: BootstrapSettings,
                                _ statistic: ([Double]) -> Double) -> (value: Double, lower: Double, upper: Double) {
        interval(imageCounts: [imageCount], settings: settings) { statistic($0[0]) }
    }

    /// The same over several independent groups of images (e.g. two datasets' test images):
    /// each resample draws every group's images with replacement, in order, from the
    /// resample's stream; `statistic` gets one weight per image of each group.
    public static func interval(imageCounts: [Int], settings: BootstrapSettings,
                                _ statistic: ([[Double]]) -> Double) -> (value: Double, lower: Double, upper: Double) {
        let value = statistic(imageCounts.map { [Double](repeating: 1, count: $0) })
        guard value.isFinite, imageCounts.allSatisfy({ $0 > 0 }), settings.resamples > 0 else { return (value, .nan, .nan) }
        var replicates: [Double] = []
        replicates.reserveCapacity(settings.resamples)
        for b in 0..<settings.resamples {
            var rng = SplitMix(seed: settings.seed, stream: UInt64(b))
            let v = statistic(imageCounts.map { resampleCounts($0, rng: &rng) })
            if v.isFinite { replicates.append(v) }
        }
        guard Double(replicates.count) >= BootstrapSettings.minimumDefined * Double(settings.resamples) else { return (value, .nan, .nan) }
        replicates.sort()
        return (value, Statistics.quantile(replicates, 0.025), Statistics.quantile(replicates, 0.975))
    }

    /// Weighted mean of `values` (one per image, NaN where an image does not count) under
    /// `weights`; NaN when no image counts.
    public static func mean(_ values: [Double], weights: [Double]) -> Double {
        var sum = 0.0, total = 0.0
        for (v, w) in zip(values, weights) where v.isFinite && w > 0 { sum += v * w; total += w }
        return total > 0 ? sum / total : .nan
    }
}
