import Randomness

/// The scores of one (image, attribute) item.
public struct ScoredItem: Sendable, Equatable {
    /// Peak of the upsampled map (row, column in image pixels).
    public var peak: (row: Float, column: Float)
    /// Whether the pointing game could be played: the attribute has parts and the image shows one.
    public var scored: Bool
    public var hit: Bool
    /// hit ∧ (where per-image truth exists) the image has the attribute.
    public var grounded: Bool
    /// Energy share inside the part mask (NaN where undefined).
    public var energy: Float
    /// The energy share of a map spread evenly over the bird (`PointingGame.uniformEnergyShare`; NaN where undefined).
    public var uniformEnergy: Float = .nan
    /// Each baseline's hit (nil where the baseline has no point, e.g. no box), `PointingBaseline.allCases` order.
    public var baselineHits: [Bool?]

    /// `baselineHits` as a grounding file stores them (`baseline_hits`): 1 hit, 0 miss,
    /// `PointingBaseline.notPlayed` where the baseline was not played.
    public var baselineCodes: [UInt8] { baselineHits.map { $0.map { $0 ? 1 : 0 } ?? PointingBaseline.notPlayed } }

    public static func == (a: ScoredItem, b: ScoredItem) -> Bool {
        a.peak == b.peak && a.scored == b.scored && a.hit == b.hit && a.grounded == b.grounded
            && (a.energy == b.energy || (a.energy.isNaN && b.energy.isNaN))
            && (a.uniformEnergy == b.uniformEnergy || (a.uniformEnergy.isNaN && b.uniformEnergy.isNaN)) && a.baselineHits == b.baselineHits
    }
}

/// Scores maps against part truth: upsampling, peak, pointing game, energy share, chance baselines.
public struct GroundingScorer: Sendable {
    public let game: PointingGame
    /// Side of the (square) images, pixels.
    public let imageSize: Int
    public let attributeParts: AttributeParts

    public init(game: PointingGame, imageSize: Int, attributeParts: AttributeParts) {
        self.game = game
        self.imageSize = imageSize
        self.attributeParts = attributeParts
    }

    /// Scores the map of `attribute` (at feature resolution) on one image. `present` is
    /// whether the image really has the attribute (nil without per-image truth); `box` the
    /// bird's box (x, y, w, h); `shown` what the truth shows (`ShownParts(truth)`, computed here
    /// when not given); `rng` draws the random baselines.
    public func score(map: Map2D, attribute: Int, truth: PartTruth, shown: ShownParts? = nil, present: Bool?, box: [Float]?,
                      rng: inout SplitMix) -> ScoredItem {
        let shown = shown ?? ShownParts(truth)
        let full = map.upsampled(rows: imageSize, columns: imageSize)
        let peak = full.peak
        let parts = attribute < attributeParts.count ? attributeParts.parts[attribute] : []
        let hit = game.hit(row: peak.row, column: peak.column, parts: parts, truth: truth)
        let baselineHits: [Bool?] = PointingBaseline.allCases.map { baseline in
            // Every baseline draws (or not) the same way whether or not the item is scored,
            // so the random points do not depend on which items have truth.
            if baseline == .wrongPart {
                let control = PointingBaseline.wrongPart(besides: parts, truth: truth, shown: shown, rng: &rng)
                guard hit != nil, let control else { return nil }
                return game.hit(row: peak.row, column: peak.column, parts: [control], truth: truth)
            }
            let point = baseline.point(rows: imageSize, columns: imageSize, box: box, truth: truth, shown: shown, rng: &rng)
            guard hit != nil, let point else { return nil }
            return game.hit(row: point.row, column: point.column, parts: parts, truth: truth)
        }
        let scored = hit != nil
        let isHit = hit ?? false
        return ScoredItem(peak: peak, scored: scored, hit: isHit, grounded: scored && isHit && (present ?? true),
                          energy: PointingGame.energyShare(full, parts: parts, truth: truth),
                          uniformEnergy: PointingGame.uniformEnergyShare(parts: parts, truth: truth), baselineHits: baselineHits)
    }
}

/// Running totals over scored items: the pointing accuracy of the maps and of each
/// baseline, and the grounded fraction.
public struct PointingTally: Sendable, Equatable {
    public var scored = 0
    public var hits = 0
    public var grounded = 0
    public var items = 0
    /// Per baseline (`PointingBaseline.allCases` order): items it could be played on, hits.
    public var baselineScored = [Int](repeating: 0, count: PointingBaseline.allCases.count)
    public var baselineHits = [Int](repeating: 0, count: PointingBaseline.allCases.count)

    public init() {}

    public mutating func add(_ item: ScoredItem) {
        add(scored: item.scored, hit: item.hit, grounded: item.grounded, baselineCodes: item.baselineCodes[...])
    }

    /// Adds one item as a grounding file stores it: its `scored`, `hit` and `grounded`
    /// flags and its row of `baseline_hits` (`ScoredItem.baselineCodes`).
    public mutating func add(scored isScored: Bool, hit: Bool, grounded isGrounded: Bool, baselineCodes: ArraySlice<UInt8>) {
        items += 1
        guard isScored else { return }
        scored += 1
        if hit { hits += 1 }
        if isGrounded { grounded += 1 }
        for (b, code) in baselineCodes.enumerated() where code != PointingBaseline.notPlayed {
            baselineScored[b] += 1
            if code == 1 { baselineHits[b] += 1 }
        }
    }

    /// hits / scored (NaN when nothing was scored).
    public var pointingAccuracy: Double { scored > 0 ? Double(hits) / Double(scored) : .nan }
    public var groundedFraction: Double { scored > 0 ? Double(grounded) / Double(scored) : .nan }
    public func baselineAccuracy(_ b: PointingBaseline) -> Double {
        let i = PointingBaseline.allCases.firstIndex(of: b)!
        return baselineScored[i] > 0 ? Double(baselineHits[i]) / Double(baselineScored[i]) : .nan
    }
}
