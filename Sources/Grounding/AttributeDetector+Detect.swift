import Foundation
import Tensors

/// What the detector finds on one image: per part, whether it is there and where, and per
/// attribute the value score on each of its parts.
public struct PartDetections: Sendable {
    /// A part counts as found when some pixel gives it at least this probability.
    public static let partThreshold: Float = 0.5

    /// Per part: the highest probability any pixel gives it, and that pixel's centre (row, column).
    public var confidence: [Float]
    public var peaks: [(row: Float, column: Float)]
    /// Per attribute, per part of `attributeParts.parts[a]` (same order): the mean of the
    /// attribute's probability over the image, weighted by the part's probability.
    public var values: [[Float]]

    public init(confidence: [Float], peaks: [(row: Float, column: Float)], values: [[Float]]) {
        self.confidence = confidence; self.peaks = peaks; self.values = values
    }

    public func found(part p: Int) -> Bool { p < confidence.count && confidence[p] >= Self.partThreshold }

    /// The value score of attribute `a` on the most confident of its parts (`parts`, the
    /// attribute's parts in table order), that part's peak and whether the part is found; nil
    /// for an attribute without parts.
    public func score(_ a: Int, parts: [Int]) -> (score: Float, peak: (row: Float, column: Float), partFound: Bool)? {
        var best: (q: Int, p: Int)?
        for (q, p) in parts.enumerated() where p < confidence.count {
            if best == nil || confidence[p] > confidence[best!.p] { best = (q, p) }
        }
        guard let best, best.q < values[a].count else { return nil }
        return (values[a][best.q], peaks[best.p], found(part: best.p))
    }

    /// Whether the detector finds attribute `a`'s value, and where: its part is found and `a`
    /// scores highest among the values of its group (`groups.members[a]`, the attribute
    /// included), as a detector's attribute head names one value per box. The peak is its
    /// part's (nil without parts).
    public func find(_ a: Int, groups: AttributeGroups, parts: AttributeParts) -> (found: Bool, peak: (row: Float, column: Float)?) {
        guard let mine = score(a, parts: parts.parts[a]) else { return (false, nil) }
        let top = groups.members[a].allSatisfy { other in other == a || (score(other, parts: parts.parts[other])?.score ?? 0) < mine.score }
        return (mine.partFound && top, mine.peak)
    }
}

/// The values of each attribute group (`has_wing_color::…`): attributes whose names share
/// the part before `::`.
public struct AttributeGroups: Sendable {
    /// members[a]: every attribute of a's group, a included, in attribute order.
    public let members: [[Int]]

    public init(attributeNames: [String]) {
        var byGroup: [String: [Int]] = [:]
        for (a, name) in attributeNames.enumerated() { byGroup[AttributeParts.group(of: name), default: []].append(a) }
        members = attributeNames.map { byGroup[AttributeParts.group(of: $0)]! }
    }
}

extension AttributeDetector {
    /// Detections for every image of `x` (N, 3, H, W); `attributeParts` is the detector's table.
    public func detect(_ x: Tensor, attributeParts: AttributeParts) throws -> [PartDetections] {
        let (logits, trace) = try forwardInLayout(x)
        let (n, channels, h, w) = trace.layout.sizes(logits.shape)
        let plane = h * w, labels = partCount + 1
        // Logit c of image i at `pixel`, in either layout.
        let at = trace.layout == .nchw ? { (i: Int, c: Int, pixel: Int) in (i * channels + c) * plane + pixel }
                                       : { (i: Int, c: Int, pixel: Int) in (i * plane + pixel) * channels + c }
        var out: [PartDetections] = []
        for i in 0..<n {
            // Part probabilities per pixel (softmax over background and parts).
            var prob = [Float](repeating: 0, count: labels * plane)
            for pixel in 0..<plane {
                var m = -Float.infinity
                for c in 0..<labels { m = max(m, logits.data[at(i, c, pixel)]) }
                var sum: Float = 0
                for c in 0..<labels {
                    let e = expf(logits.data[at(i, c, pixel)] - m)
                    prob[c * plane + pixel] = e
                    sum += e
                }
                for c in 0..<labels { prob[c * plane + pixel] /= sum }
            }
            var confidence = [Float](repeating: 0, count: partCount)
            var peaks = [(row: Float, column: Float)](repeating: (0, 0), count: partCount)
            for p in 0..<partCount {
                var best = -Float.infinity, at = 0
                for pixel in 0..<plane where prob[(p + 1) * plane + pixel] > best { best = prob[(p + 1) * plane + pixel]; at = pixel }
                confidence[p] = best
                peaks[p] = (Float(at / w) + 0.5, Float(at % w) + 0.5)
            }
            var values: [[Float]] = []
            for a in 0..<attributeCount {
                let parts = a < attributeParts.count ? attributeParts.parts[a] : []
                values.append(parts.map { p in
                    // Over the pixels where the part is at least half as likely as at its peak
                    // (so the empty frame does not outweigh a small part), weighted by its probability.
                    var num: Float = 0, den: Float = 0
                    let floor = 0.5 * confidence[p]
                    for pixel in 0..<plane {
                        let weight = prob[(p + 1) * plane + pixel]
                        guard weight >= floor else { continue }
                        num += weight / (1 + expf(-logits.data[at(i, labels + a, pixel)]))
                        den += weight
                    }
                    return den > 0 ? num / den : 0
                })
            }
            out.append(PartDetections(confidence: confidence, peaks: peaks, values: values))
        }
        return out
    }
}

/// The detector's own accuracy on images with part truth (measured on clean test images).
public struct DetectorAccuracy: Sendable, Equatable {
    /// (image, part shown) pairs, and those whose part's peak (the most probable pixel) lies on the part's mask (dilated 1 px).
    public var partsShown = 0
    public var partsLocated = 0
    /// (image, attribute on a shown part) pairs the image has, and those the detector finds.
    public var present = 0
    public var presentFound = 0
    /// Pairs the detector finds, and those the image has.
    public var found = 0
    public var foundPresent = 0
    /// (image, attribute group on a shown part with one true value), and those where the
    /// group's best-scoring value is the true one.
    public var groups = 0
    public var groupsRight = 0

    public init() {}

    public var partLocalisation: Double { partsShown > 0 ? Double(partsLocated) / Double(partsShown) : .nan }
    public var recall: Double { present > 0 ? Double(presentFound) / Double(present) : .nan }
    public var precision: Double { found > 0 ? Double(foundPresent) / Double(found) : .nan }
    public var valueAccuracy: Double { groups > 0 ? Double(groupsRight) / Double(groups) : .nan }

    /// Adds one image: its detections, part mask, and per-attribute truth (1 present).
    public mutating func add(_ d: PartDetections, mask: [UInt8], size: Int, present: ArraySlice<Float>, attributeParts: AttributeParts,
                             attributeNames: [String]) {
        let truth = PartTruth.mask(rows: size, columns: size, labels: mask)
        let shown = Set(ShownParts(truth).parts)
        let game = PointingGame(tolerance: 1)
        for p in shown.sorted() where p < d.confidence.count {
            partsShown += 1
            if game.hit(row: d.peaks[p].row, column: d.peaks[p].column, parts: [p], truth: truth) == true {
                partsLocated += 1
            }
        }
        var byGroup: [String: [(attribute: Int, score: Float)]] = [:]
        let groupTable = AttributeGroups(attributeNames: attributeNames)
        for a in 0..<min(attributeParts.count, present.count) {
            guard attributeParts.parts[a].contains(where: shown.contains), let score = d.score(a, parts: attributeParts.parts[a]) else { continue }
            let has = present[present.startIndex + a] >= 0.5
            let result = d.find(a, groups: groupTable, parts: attributeParts)
            if has { self.present += 1; if result.found { presentFound += 1 } }
            if result.found { found += 1; if has { foundPresent += 1 } }
            byGroup[AttributeParts.group(of: attributeNames[a]), default: []].append((a, score.score))
        }
        for (_, values) in byGroup.sorted(by: { $0.key < $1.key }) {
            let truthValues = values.filter { present[present.startIndex + $0.attribute] >= 0.5 }
            guard truthValues.count == 1, let best = values.max(by: { $0.score < $1.score }) else { continue }
            groups += 1
            if best.attribute == truthValues[0].attribute { groupsRight += 1 }
        }
    }
}
