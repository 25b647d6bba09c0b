import Foundation

/// Which images of a grounding file a comparison is made on.
public enum GroundingSubset: String, Codable, Sendable, CaseIterable {
    /// Every test image the file holds.
    case all
    /// The paper's images (§ 5.1.2, § 5.2.2): for the standard model the images it gets right
    /// clean and wrong when attacked; for the robust model (white-box or transfer) the
    /// images it recovers: the standard model's adversarial wrong, this file's adversarial right.
    case paper
}

/// The maps' pointing accuracy on one set of a grounding file compared with every chance
/// baseline and the wrong-part control, each difference with its 95% bootstrap interval over
/// test images, and the energy share against its uniform-over-the-bird level.
public struct GroundingComparisonRow: Codable, Sendable, Equatable {
    /// A value, and its interval when it is a comparison (NaN bounds where undefined).
    public struct Interval: Codable, Sendable, Equatable {
        public var value: Double
        public var lower: Double
        public var upper: Double
        public init(_ t: (value: Double, lower: Double, upper: Double)) { value = t.0; lower = t.1; upper = t.2 }
        /// The interval lies above zero.
        public var clearsZero: Bool { lower.isFinite && lower > 0 }
    }

    public var subset: GroundingSubset
    public var images: Int
    public var scoredItems: Int
    public var pointing: Double
    /// Per baseline (the record's order): its pointing accuracy on the same items, and the maps' lead over it.
    public var baselines: [String]
    public var baselineValues: [Double]
    public var leads: [Interval]
    /// Pointing − the best location baseline (all but the control), the best chosen anew on every resample.
    public var leadOverBest: Interval
    /// pointing / the best location baseline on the run as measured.
    public var ratioToBest: Double
    public var energy: Double
    public var uniformEnergy: Double
    /// Energy share − its uniform level.
    public var energyLead: Interval
    /// The detector route (nil without a detector): the share of scored items it grounds,
    /// the share whose detector place lies on the part, and that share's lead over the best
    /// location baseline.
    public var detectorGrounded: Interval?
    public var detectorPointing: Double?
    public var detectorLeadOverBest: Interval?
}

/// Weighted sums over one set's items: scored items, map hits, per baseline hits and plays,
/// energy shares and their uniform levels (over `energyItems` items).
private struct Sums {
    var scored: Double, hits: Double, baseHits: [Double], played: [Double], energy: Double, uniform: Double, energyItems: Double
    var detectorGrounded = 0.0, detectorHits = 0.0
}

/// The grounding table's intervals (quantify's grounding summary, the report's headline table).
public enum GroundingIntervals {
    /// The name of the wrong-part control among a record's baselines (`PointingBaseline.wrongPart`).
    public static let control = "wrong_part"

    /// The images of `subset` for a set of `record` (`standard` is the same eps's standard file,
    /// needed for the robust model's paper images); nil means every image.
    public static func images(_ subset: GroundingSubset, record: GroundingRecord, standard: GroundingRecord?) -> Set<Int>? {
        guard subset == .paper else { return nil }
        if record.role == .standard {
            let wrongAttacked = Set(record.adversarial.filter { !$0.generalCorrect }.map(\.image))
            return Set(record.clean.filter(\.generalCorrect).map(\.image)).intersection(wrongAttacked)
        }
        guard let standard else { return [] }
        let fooled = Set(standard.adversarial.filter { !$0.generalCorrect }.map(\.image))
        return fooled.intersection(record.adversarial.filter(\.generalCorrect).map(\.image))
    }

    /// The comparison row of the items of one set (`clean` or not) of `record` over the images
    /// in `only` (all when nil); `imageCount` test images are resampled.
    public static func row(_ record: GroundingRecord, clean: Bool, subset: GroundingSubset, only: Set<Int>?, imageCount: Int,
                           settings: BootstrapSettings) -> GroundingComparisonRow {
        let items = (clean ? record.clean : record.adversarial).filter { only?.contains($0.image) ?? true }
        let b = record.baselines.count
        let location = record.baselines.indices.filter { record.baselines[$0] != control }
        // Every statistic is a ratio of weighted sums over the items' images.
        func sums(_ w: [Double]) -> Sums {
            var scored = 0.0, hits = 0.0, energy = 0.0, uniform = 0.0, energyItems = 0.0
            var baseHits = [Double](repeating: 0, count: b), played = baseHits
            for item in items {
                let weight = w[item.image]
                guard weight > 0 else { continue }
                scored += weight * Double(item.scored)
                hits += weight * Double(item.hits)
                for j in 0..<b where j < item.baselineHits.count {
                    baseHits[j] += weight * Double(item.baselineHits[j])
                    played[j] += weight * Double(item.baselinePlayed[j])
                }
                if let e = item.energy, let u = item.uniformEnergy, let n = item.energyItems {
                    energy += weight * e; uniform += weight * u; energyItems += weight * Double(n)
                }
            }
            var sums = Sums(scored: scored, hits: hits, baseHits: baseHits, played: played, energy: energy, uniform: uniform,
                            energyItems: energyItems)
            for item in items {
                let weight = w[item.image]
                sums.detectorGrounded += weight * Double(item.detectorGrounded ?? 0)
                sums.detectorHits += weight * Double(item.detectorHits ?? 0)
            }
            return sums
        }
        func pointing(_ s: Sums) -> Double {
            s.scored > 0 ? s.hits / s.scored : .nan
        }
        func baseline(_ s: Sums, _ j: Int) -> Double {
            s.played[j] > 0 ? s.baseHits[j] / s.played[j] : .nan
        }
        func best(_ s: Sums) -> Double {
            location.map { baseline(s, $0) }.filter(\.isFinite).max() ?? .nan
        }
        let measured = sums([Double](repeating: 1, count: imageCount))
        let leads = (0..<b).map { j in
            GroundingComparisonRow.Interval(ImageBootstrap.interval(imageCount: imageCount, settings: settings) { w in
                let s = sums(w); return pointing(s) - baseline(s, j) })
        }
        let leadOverBest = GroundingComparisonRow.Interval(ImageBootstrap.interval(imageCount: imageCount, settings: settings) { w in
            let s = sums(w); return pointing(s) - best(s) })
        let energyLead = GroundingComparisonRow.Interval(ImageBootstrap.interval(imageCount: imageCount, settings: settings) { w in
            let s = sums(w); return s.energyItems > 0 ? (s.energy - s.uniform) / s.energyItems : .nan })
        let p = pointing(measured), bestValue = best(measured)
        let hasDetector = !items.isEmpty && items.allSatisfy { $0.detectorGrounded != nil && $0.detectorHits != nil }
        let detectorGrounded = hasDetector ? GroundingComparisonRow.Interval(ImageBootstrap.interval(imageCount: imageCount, settings: settings) { w in
            let s = sums(w); return s.scored > 0 ? s.detectorGrounded / s.scored : .nan }) : nil
        let detectorLead = hasDetector ? GroundingComparisonRow.Interval(ImageBootstrap.interval(imageCount: imageCount, settings: settings) { w in
            let s = sums(w); return s.scored > 0 ? s.detectorHits / s.scored - best(s) : .nan }) : nil
        return GroundingComparisonRow(
            subset: subset, images: Set(items.map(\.image)).count, scoredItems: Int(measured.scored), pointing: p,
            baselines: record.baselines, baselineValues: (0..<b).map { baseline(measured, $0) }, leads: leads,
            leadOverBest: leadOverBest, ratioToBest: bestValue > 0 ? p / bestValue : .nan,
            energy: measured.energyItems > 0 ? measured.energy / measured.energyItems : .nan,
            uniformEnergy: measured.energyItems > 0 ? measured.uniform / measured.energyItems : .nan, energyLead: energyLead,
            detectorGrounded: detectorGrounded, detectorPointing: hasDetector && measured.scored > 0 ? measured.detectorHits / measured.scored : nil,
            detectorLeadOverBest: detectorLead)
    }
}

extension GroundingIntervals {
    /// The detector route's grounded fraction on clean − on adversarial images of `record`
    /// over the images in `only` (all when nil), with its interval; nil without a detector.
    public static func detectorCleanMinusAdversarial(_ record: GroundingRecord, only: Set<Int>?, imageCount: Int,
                                                     settings: BootstrapSettings) -> GroundingComparisonRow.Interval? {
        let clean = record.clean.filter { only?.contains($0.image) ?? true }
        let adversarial = record.adversarial.filter { only?.contains($0.image) ?? true }
        guard !clean.isEmpty, (clean + adversarial).allSatisfy({ $0.detectorGrounded != nil }) else { return nil }
        func fraction(_ items: [GroundingImage], _ w: [Double]) -> Double {
            var scored = 0.0, grounded = 0.0
            for item in items {
                scored += w[item.image] * Double(item.scored)
                grounded += w[item.image] * Double(item.detectorGrounded ?? 0)
            }
            return scored > 0 ? grounded / scored : .nan
        }
        return GroundingComparisonRow.Interval(ImageBootstrap.interval(imageCount: imageCount, settings: settings) { w in
            fraction(clean, w) - fraction(adversarial, w) })
    }
}
