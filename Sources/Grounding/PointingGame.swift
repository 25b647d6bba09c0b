import ImageIO
import Randomness

/// Where one image's parts are.
public enum PartTruth: Sendable {
    /// Per-pixel part labels (rows × columns, row-major): 0 background, p + 1 for part p.
    case mask(rows: Int, columns: Int, labels: [UInt8])
    /// One keypoint per part (images.h5's `part_keypoints`, stored-image pixels).
    case keypoints([Keypoint])
    /// No part truth (AwA2, LAD).
    case none
}

/// What one image's part truth shows, for the baselines that draw from it: the bird's pixels
/// (indices of mask labels > 0; none without a mask) and the parts shown (mask labels present,
/// visible keypoints), sorted. Computed once per image, not once per scored item.
public struct ShownParts: Sendable {
    public let birdPixels: [Int]
    public let parts: [Int]

    public init(_ truth: PartTruth) {
        switch truth {
        case .mask(_, _, let labels):
            var present = [Bool](repeating: false, count: 256)
            var bird: [Int] = []
            for (i, label) in labels.enumerated() where label > 0 {
                bird.append(i)
                present[Int(label)] = true
            }
            birdPixels = bird
            parts = (1..<256).filter { present[$0] }.map { $0 - 1 }
        case .keypoints(let points):
            birdPixels = []
            parts = points.indices.filter { points[$0].visible }
        case .none:
            birdPixels = []
            parts = []
        }
    }
}

/// The pointing game (Zhang et al.'s protocol, applied to attribute maps): a map points at
/// the right place when its peak lies on the attribute's part: inside the part's mask
/// dilated by one pixel (3 × 3 neighbourhood), or within `tolerance` pixels of a visible
/// keypoint of the part.
public struct PointingGame: Sendable {
    /// Keypoint radius in pixels of the stored image.
    public let tolerance: Float

    public init(tolerance: Float) { self.tolerance = tolerance }

    /// τ = `at224` pixels at 224 px, scaled linearly with the image side.
    public static func tolerance(imageSize: Int, at224: Float = 15) -> Float {
        at224 * Float(imageSize) / 224
    }

    /// Whether the point (row, column in continuous pixel coordinates) hits any of `parts`.
    /// nil when the item cannot be scored: no truth, no part, or none of the parts shown
    /// in this image (no mask pixel, no visible keypoint).
    public func hit(row: Float, column: Float, parts: [Int], truth: PartTruth) -> Bool? {
        guard !parts.isEmpty else { return nil }
        switch truth {
        case .none:
            return nil
        case .keypoints(let points):
            let shown = parts.filter { $0 < points.count && points[$0].visible }
            guard !shown.isEmpty else { return nil }
            return shown.contains { p in
                let dx = Float(points[p].x) - column, dy = Float(points[p].y) - row
                return dx * dx + dy * dy <= tolerance * tolerance
            }
        case .mask(let rows, let columns, let labels):
            let wanted = Self.labelTable(parts)
            guard labels.contains(where: { wanted[Int($0)] }) else { return nil }
            let r = min(rows - 1, max(0, Int(row.rounded(.down)))), c = min(columns - 1, max(0, Int(column.rounded(.down))))
            for rr in max(0, r - 1)...min(rows - 1, r + 1) {
                for cc in max(0, c - 1)...min(columns - 1, c + 1) where wanted[Int(labels[rr * columns + cc])] {
                    return true
                }
            }
            return false
        }
    }

    /// For each mask label 0…255, whether it is one of `parts` (label p + 1 for part p):
    /// a table lookup per pixel instead of a set lookup.
    static func labelTable(_ parts: [Int]) -> [Bool] {
        var table = [Bool](repeating: false, count: 256)
        for p in parts where (0..<255).contains(p) { table[p + 1] = true }
        return table
    }

    /// Energy share: the fraction of the map's positive mass (upsampled to the image) that
    /// lies inside the parts' mask. NaN without a mask, when the parts are not shown, or
    /// when the map has no positive mass.
    public static func energyShare(_ map: Map2D, parts: [Int], truth: PartTruth) -> Float {
        guard case .mask(let rows, let columns, let labels) = truth, rows == map.rows, columns == map.columns,
              !parts.isEmpty else { return .nan }
        let wanted = labelTable(parts)
        var inside: Double = 0, total: Double = 0, shown = false
        for i in map.values.indices {
            let isPart = wanted[Int(labels[i])]
            shown = shown || isPart
            let v = map.values[i]
            guard v > 0 else { continue }
            total += Double(v)
            if isPart { inside += Double(v) }
        }
        guard shown, total > 0 else { return .nan }
        return Float(inside / total)
    }

    /// The energy share a map would have if its mass were spread evenly over the bird: the
    /// parts' pixels over the bird's pixels (mask labels > 0). The level an energy share must
    /// beat to say more than "the bird is here". NaN without a mask or when the parts are not shown.
    public static func uniformEnergyShare(parts: [Int], truth: PartTruth) -> Float {
        guard case .mask(_, _, let labels) = truth, !parts.isEmpty else { return .nan }
        let wanted = labelTable(parts)
        var part = 0, bird = 0
        for label in labels where label > 0 {
            bird += 1
            if wanted[Int(label)] { part += 1 }
        }
        return part > 0 ? Float(part) / Float(bird) : .nan
    }
}

/// Chance baselines for the pointing game: where a map that knows nothing but where the
/// bird is would point, and a control that scores the map's own peak against a part the
/// attribute does not belong to. A map explains an attribute only where it beats the best
/// of them (docs/ground.md § Baselines).
public enum PointingBaseline: String, CaseIterable, Sendable {
    /// A uniform random point in the image (seeded per image and set).
    case random
    /// The image centre.
    case centre
    /// The centre of the bird's box (images.h5 `boxes`), when the dataset has boxes.
    case boxCentre = "box_centre"
    /// A uniform random pixel on the bird: of its part mask (rendered sets), else a uniform
    /// random point in its box (CUB); not played without either.
    case birdPixel = "bird_pixel"
    /// Control: the map's own peak, scored against one part shown in the image that is not
    /// among the attribute's parts (drawn uniformly). A map that points at the attribute's
    /// part, not just at the bird, hits its own part more often than this wrong one.
    case wrongPart = "wrong_part"

    /// The `baseline_hits` code of a baseline that was not played on an item (the item is
    /// not scored, or the image has no box).
    public static let notPlayed: UInt8 = 255

    /// The baseline's point (row, column) for an image of `rows` × `columns`; nil for
    /// `boxCentre` without a box, `birdPixel` without a mask or box, and `wrongPart` (which
    /// scores the map's own peak). `box` is (x, y, width, height). Each baseline draws the
    /// same number of values whatever the image holds, so later draws do not depend on it.
    public func point(rows: Int, columns: Int, box: [Float]?, truth: PartTruth = .none, shown: ShownParts? = nil,
                      rng: inout SplitMix) -> (row: Float, column: Float)? {
        let hasBox = box.map { $0.count == 4 && $0[2] > 0 && $0[3] > 0 } ?? false
        switch self {
        case .random:
            return (Float(rng.uniform(0, Double(rows))), Float(rng.uniform(0, Double(columns))))
        case .centre:
            return (Float(rows) / 2, Float(columns) / 2)
        case .boxCentre:
            guard let box, hasBox else { return nil }
            return (box[1] + box[3] / 2, box[0] + box[2] / 2)
        case .birdPixel:
            let (u, v) = (rng.uniform(), rng.uniform())
            if case .mask(let maskRows, let maskColumns, _) = truth {
                let bird = (shown ?? ShownParts(truth)).birdPixels
                guard !bird.isEmpty else { return nil }
                let pixel = bird[min(bird.count - 1, Int(u * Double(bird.count)))]
                // The pixel's centre, in the image's coordinates.
                return ((Float(pixel / maskColumns) + 0.5) * Float(rows) / Float(maskRows),
                        (Float(pixel % maskColumns) + 0.5) * Float(columns) / Float(maskColumns))
            }
            guard let box, hasBox else { return nil }
            return (box[1] + Float(u) * box[3], box[0] + Float(v) * box[2])
        case .wrongPart:
            return nil
        }
    }

    /// The control's part for an attribute on `parts`: one part shown in the image (a mask
    /// label present, a visible keypoint) that is not among `parts`, drawn uniformly with one
    /// draw; nil when there is none. `shown` is `ShownParts(truth)` when already at hand.
    public static func wrongPart(besides parts: [Int], truth: PartTruth, shown: ShownParts? = nil, rng: inout SplitMix) -> Int? {
        let u = rng.uniform()
        let candidates = (shown ?? ShownParts(truth)).parts.filter { !parts.contains($0) }
        guard !candidates.isEmpty else { return nil }
        return candidates[min(candidates.count - 1, Int(u * Double(candidates.count)))]
    }
}
