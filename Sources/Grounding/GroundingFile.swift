import HDF5Store

/// The grounding file (`<ds>/grounding/<model>-eps<e>.h5`, written by `ground`); rows
/// follow the adversarial file's row order:
///
/// - `index` int64 [N] (rows of images.h5), `labels` int32 [N]
/// - `clean/`, `adversarial/`: `predictions` (attribute-based class) and
///   `general_predictions` (the CNN's class) int32 [N]; `attributes` int32 [N,k] (eq. 7 on
///   clean, eq. 8 on adversarial), `scores` float32 [N,k] (the ranking value), `peaks`
///   float32 [N,k,2] (row, column in image pixels), `hit`, `grounded`, `scored` uint8 [N,k],
///   `energy` float32 [N,k] (NaN without a part mask), `maps` float32 [N,k,h,w] at feature
///   resolution, `map_scale` float32 [N] (s: A = s·mean(M) + b); `clean/wrong_class` int32 [N];
///   with detections, `detection_grounded` uint8 [N,k]
/// - `reference/attributes` int32 [N,k] (the true class's k most present attributes) with
///   `hit`, `grounded`, `scored`, `peaks`, `energy` on the clean image's maps
/// - `attribute_parts` int32 [A,m] (−1 padded), `part_names` string [P], `map_offset` float32 [A] (b)
/// - root attributes `method`, `top_k`, `tolerance_px`, `eps`, `model`, `adversarial_model`,
///   `transfer`, `has_part_truth`, `map_stage`, and the summaries below.
public enum GroundingFile {
    /// The two image sets of a grounding file.
    public enum ImageSet: String, CaseIterable, Sendable {
        case clean, adversarial
    }

    /// Root attribute of a summary: `pointing_accuracy_clean`, `baseline_box_centre_adversarial`, ….
    public static func summaryName(_ measure: String, _ set: ImageSet) -> String { "\(measure)_\(set.rawValue)" }

    /// Measures stored per image set as root attributes (NaN where there is no part truth).
    public static let measures = ["pointing_accuracy", "grounded_fraction", "baseline_random", "baseline_centre",
                                  "baseline_box_centre", "energy_share", "scored_items"]
}

/// The summary attributes of one grounding file, for quantify and report.
public struct GroundingSummary: Sendable {
    public var path: String
    public var model: String
    public var eps: Double
    public var method: String
    public var transfer: Bool
    public var hasPartTruth: Bool
    /// measure → set → value.
    public var values: [String: [GroundingFile.ImageSet: Double]]
    /// Pointing accuracy of the reference attributes on the clean images.
    public var referencePointingAccuracy: Double

    public func value(_ measure: String, _ set: GroundingFile.ImageSet) -> Double { values[measure]?[set] ?? .nan }

    public static func read(_ path: String) throws -> GroundingSummary {
        let file = try H5File.open(path)
        defer { file.close() }
        func number(_ name: String) throws -> Double {
            guard file.hasAttribute(name) else { return .nan }
            return try file.attribute(name).doubleValue ?? .nan
        }
        var values: [String: [GroundingFile.ImageSet: Double]] = [:]
        for m in GroundingFile.measures {
            for s in GroundingFile.ImageSet.allCases { values[m, default: [:]][s] = try number(GroundingFile.summaryName(m, s)) }
        }
        return GroundingSummary(path: path, model: try file.attribute("model").stringValue ?? "",
                                eps: try number("eps"), method: try file.attribute("method").stringValue ?? "",
                                transfer: try number("transfer") == 1, hasPartTruth: try number("has_part_truth") == 1,
                                values: values, referencePointingAccuracy: try number("reference_pointing_accuracy"))
    }
}
