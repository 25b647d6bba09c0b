import Foundation

/// One box of an external object-and-attribute detector (e.g. bottom-up-attention's
/// Visual Genome Faster R-CNN), on one image.
public struct Detection: Sendable, Equatable {
    /// Row of images.h5 the box belongs to.
    public var index: Int
    /// x1, y1, x2, y2 in image pixels.
    public var box: [Float]
    public var object: String
    public var attribute: String
    public var objectConfidence: Float?
    public var attributeConfidence: Float?
}

/// The paper's grounding route (§3.2): a dataset attribute is grounded on an image when a
/// detected box carries the attribute's value word ("black" of has_bill_color::black) and
/// its object word names the attribute's part ("beak" for bill).
///
/// File format (TSV, one box per line; `#` starts a comment line; blank lines skipped):
/// `index  x1  y1  x2  y2  object  attribute  [object_confidence  attribute_confidence]`
/// with `index` a row of images.h5 and confidences in [0, 1].
public struct Detections: Sendable {
    public let path: String
    /// Boxes per images.h5 row.
    public let byImage: [Int: [Detection]]

    public init(path: String, byImage: [Int: [Detection]]) {
        self.path = path
        self.byImage = byImage
    }

    /// Parses a detections file; rows must lie in 0..<`imageCount`. Errors name the file
    /// and the line.
    public static func read(_ path: String, imageCount: Int) throws -> Detections {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw GroundingError("\(path): cannot read the detections file (\(error.localizedDescription))")
        }
        return try parse(text, path: path, imageCount: imageCount)
    }

    /// Parses detections text (see `read`).
    public static func parse(_ text: String, path: String, imageCount: Int) throws -> Detections {
        var byImage: [Int: [Detection]] = [:]
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            func fail(_ reason: String) -> GroundingError { GroundingError("\(path):\(number + 1): \(reason)") }
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 7 || f.count == 9 else {
                throw fail("expected 7 or 9 tab-separated fields (index, x1, y1, x2, y2, object, attribute[, object and attribute confidence]), found \(f.count)")
            }
            guard let index = Int(f[0]) else { throw fail("image index '\(f[0])' is not an integer") }
            guard (0..<imageCount).contains(index) else {
                throw fail("image index \(index) is not a row of the images file (0..<\(imageCount))")
            }
            let box = try f[1...4].map { field -> Float in
                guard let v = Float(field), v.isFinite else { throw fail("box coordinate '\(field)' is not a number") }
                return v
            }
            guard box[2] >= box[0], box[3] >= box[1] else { throw fail("box \(box) has x2 < x1 or y2 < y1") }
            guard !f[5].isEmpty, !f[6].isEmpty else { throw fail("empty object or attribute word") }
            var confidences: [Float?] = [nil, nil]
            if f.count == 9 {
                confidences = try f[7...8].map { field -> Float? in
                    guard let v = Float(field), (0...1).contains(v) else { throw fail("confidence '\(field)' is not a number in [0, 1]") }
                    return v
                }
            }
            byImage[index, default: []].append(Detection(index: index, box: box, object: f[5], attribute: f[6],
                                                          objectConfidence: confidences[0], attributeConfidence: confidences[1]))
        }
        return Detections(path: path, byImage: byImage)
    }

    /// Whether a box on image `index` grounds the dataset attribute `attributeName`: its
    /// attribute word equals the attribute's value word and, when the attribute names a
    /// part, its object word names that part; boxes below `minConfidence` (either
    /// confidence, when given) do not count.
    public func grounds(_ attributeName: String, image index: Int, minConfidence: Float = 0) -> Bool {
        guard let boxes = byImage[index] else { return false }
        let value = DetectionVocabulary.valueWord(of: attributeName)
        let part = DetectionVocabulary.partWord(of: attributeName)
        return boxes.contains { d in
            if let c = d.objectConfidence, c < minConfidence { return false }
            if let c = d.attributeConfidence, c < minConfidence { return false }
            guard DetectionVocabulary.normalise(d.attribute) == value else { return false }
            guard let part else { return true }
            return DetectionVocabulary.objects(for: part).contains(DetectionVocabulary.normalise(d.object))
        }
    }
}

/// The word matching of the paper's rule: spellings and synonyms between dataset attribute
/// names (CUB `has_bill_color::black`, AwA2 `black`) and detector words.
public enum DetectionVocabulary {
    /// Lower case, `_`/`-` as spaces, American spellings and plurals folded: "Gray" → "grey",
    /// "multi-colored" → "multi colored", "wings" → "wing".
    public static func normalise(_ word: String) -> String {
        var w = word.lowercased().replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "-", with: " ")
        w = w.split(separator: " ").joined(separator: " ")
        let synonyms = ["gray": "grey", "multicolored": "multi colored", "colorful": "multi colored", "colourful": "multi colored",
                        "stripes": "striped", "stripe": "striped", "spots": "spotted", "spot": "spotted",
                        "wings": "wing", "legs": "leg", "feet": "leg", "foot": "leg", "eyes": "eye", "tails": "tail",
                        "chest": "breast", "bill": "beak", "stomach": "belly"]
        return synonyms[w] ?? w
    }

    /// The value word of an attribute: CUB's value after `::`, without a parenthesised
    /// qualifier ("curved_(up_or_down)" → "curved"); an attribute without `::` is its own word.
    public static func valueWord(of attributeName: String) -> String {
        var value = attributeName.range(of: "::").map { String(attributeName[$0.upperBound...]) } ?? attributeName
        if let paren = value.range(of: "_(") ?? value.range(of: "(") { value = String(value[..<paren.lowerBound]) }
        return normalise(value)
    }

    /// The part word of a CUB attribute (`has_bill_color` → "beak", `has_upper_tail_color`
    /// → "tail"; nil for attributes without a group or without a part: size, shape,
    /// primary colour, which any bird box may carry → "bird").
    public static func partWord(of attributeName: String) -> String? {
        guard let range = attributeName.range(of: "::") else { return nil }
        var group = String(attributeName[..<range.lowerBound])
        if group.hasPrefix("has_") { group.removeFirst(4) }
        for suffix in ["_color", "_pattern", "_shape", "_length"] where group.hasSuffix(suffix) {
            group.removeLast(suffix.count)
        }
        switch group {
        case "size", "shape", "primary", "": return "bird"
        case "upper_tail", "under_tail": return "tail"
        default: return normalise(group)
        }
    }

    /// Object words (normalised) that name a part word.
    public static func objects(for part: String) -> Set<String> {
        switch part {
        case "bird": ["bird", "body", "animal"]
        case "head": ["head", "crown", "forehead"]
        case "crown", "forehead": [part, "head"]
        case "nape": ["nape", "neck", "head"]
        case "throat": ["throat", "neck"]
        case "upperparts": ["upperparts", "back", "body"]
        case "underparts": ["underparts", "belly", "breast", "body"]
        default: [part]
        }
    }
}
