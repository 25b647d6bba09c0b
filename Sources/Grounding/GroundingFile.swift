import HDF5Store

/// A grounding file (`<ds>/grounding/<model>-eps<e>.h5`, written by `ground`): its schema,
/// the summaries computed from it, and the one reader of its rows. Rows follow the
/// adversarial file's row order:
///
/// - `index` int64 [N] (rows of images.h5), `labels` int32 [N]
/// - `clean/`, `adversarial/`: `predictions` (attribute-based class) and
///   `general_predictions` (the CNN's class) int32 [N]; `attributes` int32 [N,k] (eq. 7 on
///   clean, eq. 8 on adversarial), `scores` float32 [N,k] (the ranking value), `peaks`
///   float32 [N,k,2] (row, column in image pixels), `hit`, `grounded`, `scored` uint8 [N,k],
///   `energy` float32 [N,k] (NaN without a part mask), `maps` float32 [N,k,h,w] at feature
///   resolution, `map_scale` float32 [N] (s: A = s·mean(M) + b), `baseline_hits` uint8 [N,k,5]
///   (the chance baselines in `PointingBaseline.allCases` order: 1 hit, 0 miss, 255 not
///   played); `clean/wrong_class` int32 [N]; with detections, `detection_grounded` uint8 [N,k]
/// - `reference/attributes` int32 [N,k] (the true class's k most present attributes) with
///   `hit`, `grounded`, `scored`, `peaks`, `energy`, `baseline_hits` on the clean image's maps
/// - `attribute_parts` int32 [A,m] (−1 padded), `part_names` string [P], `map_offset` float32 [A] (b)
/// - root attributes `method`, `top_k`, `tolerance_px`, `eps`, `model`, `adversarial_model`,
///   `transfer`, `has_part_truth`, `map_stage`, and the summaries below.
public struct GroundingFile: Sendable {
    /// The two image sets of a grounding file.
    public enum ImageSet: String, CaseIterable, Sendable {
        case clean, adversarial
    }

    /// The three attribute selections a file holds, one group each: eq. 7 on the clean image,
    /// eq. 8 on the adversarial image, and the true class's most present attributes
    /// (reference), which are mapped on the clean image.
    public enum Selection: String, CaseIterable, Sendable {
        case clean, adversarial, reference

        /// The image whose forward pass maps the selection.
        public var image: ImageSet { self == .adversarial ? .adversarial : .clean }
    }

    public let path: String
    public let index: [Int64]
    public let labels: [Int32]
    public let topK: Int
    public let clean: GroundedSet
    public let adversarial: GroundedSet
    public let summary: GroundingSummary

    public var method: String { summary.method }
    public var hasPartTruth: Bool { summary.hasPartTruth }

    /// Root summary attribute by name (pointing_accuracy_clean, baseline_random_adversarial, …); NaN when absent.
    public func summary(_ name: String) -> Double { summary.value(named: name) }

    /// Row of image `imageIndex` (a row of images.h5), if the file holds it.
    public func row(of imageIndex: Int64) -> Int? { index.firstIndex(of: imageIndex) }

    /// Root attribute of a summary: `pointing_accuracy_clean`, `baseline_box_centre_adversarial`, ….
    public static func summaryName(_ measure: String, _ set: ImageSet) -> String { "\(measure)_\(set.rawValue)" }

    /// Measures stored per image set as root attributes (NaN where there is no part truth).
    public static let measures = ["pointing_accuracy", "grounded_fraction"] + PointingBaseline.allCases.map(baselineMeasure)
        + ["energy_share", "energy_share_uniform", "scored_items"]

    /// The measure of a baseline: `baseline_random`, …, `baseline_wrong_part`.
    public static func baselineMeasure(_ baseline: PointingBaseline) -> String { "baseline_\(baseline.rawValue)" }

    /// The root attributes `writeSummaries` computes over every row (with detections on
    /// the sets in `detections`). A part of a sharded run holds its own rows' values, so
    /// merge-shards recomputes these on the merged file.
    public static func summaryAttributes(detections: Set<ImageSet>, detector: Bool = false) -> [String] {
        ImageSet.allCases.flatMap { set in measures.map { summaryName($0, set) } }
            + ["reference_pointing_accuracy", "reference_grounded_fraction"]
            + ImageSet.allCases.filter(detections.contains).map { summaryName("detection_grounded_fraction", $0) }
            + (detector ? ImageSet.allCases.flatMap { set in detectorMeasures.map { summaryName($0, set) } }
                + ["reference_detector_grounded_fraction"] : [])
    }

    /// The detector route's measures per image set: the share of scored items the detector
    /// grounds (finds the value on the part), and the share whose detector place lies on the part.
    public static let detectorMeasures = ["detector_grounded_fraction", "detector_pointing"]

    /// Computes the summaries from the file's per-item datasets (`scored`, `hit`,
    /// `grounded`, `baseline_hits`, `energy`, `detection_grounded` of every row) and writes
    /// them as root attributes: the measures per image set, NaN without part truth (root
    /// attribute `has_part_truth`) apart from `scored_items`; the reference attributes'
    /// pointing accuracy and grounded fraction; with detections, the fraction of items a
    /// detector box grounds. `ground` calls it on its output and merge-shards on a merged
    /// grounding file, so both hold the same values. Returns what it wrote.
    @discardableResult
    public static func writeSummaries(in file: H5File) throws -> [String: Double] {
        let hasPartTruth = try file.attribute("has_part_truth").intValue == 1
        func tally(_ group: String) throws -> PointingTally {
            let scored = try file.read("\(group)/scored", as: UInt8.self).data
            let hit = try file.read("\(group)/hit", as: UInt8.self, expectingShape: try file.shape("\(group)/scored")).data
            let grounded = try file.read("\(group)/grounded", as: UInt8.self, expectingShape: try file.shape("\(group)/scored")).data
            let baselines = PointingBaseline.allCases.count
            let codes = try file.read("\(group)/baseline_hits", as: UInt8.self,
                                      expectingShape: try file.shape("\(group)/scored") + [baselines]).data
            var tally = PointingTally()
            for i in scored.indices {
                tally.add(scored: scored[i] == 1, hit: hit[i] == 1, grounded: grounded[i] == 1,
                          baselineCodes: codes[(i * baselines)..<((i + 1) * baselines)])
            }
            return tally
        }
        var values: [String: Double] = [:]
        for set in ImageSet.allCases {
            let t = try tally(set.rawValue)
            // Summed in row order, in double precision.
            let energies = try file.read("\(set.rawValue)/energy", as: Float.self).data.filter(\.isFinite)
            let energy = energies.isEmpty ? .nan : energies.reduce(0.0) { $0 + Double($1) } / Double(energies.count)
            // The uniform-over-the-bird level on the same items as the energy share (files
            // written before it existed have no `uniform_energy`: NaN).
            var uniform = Double.nan
            if file.exists("\(set.rawValue)/uniform_energy") {
                let all = try file.read("\(set.rawValue)/energy", as: Float.self).data
                let levels = try file.read("\(set.rawValue)/uniform_energy", as: Float.self, expectingShape: try file.shape("\(set.rawValue)/energy")).data
                let paired = zip(all, levels).filter { $0.0.isFinite && $0.1.isFinite }.map(\.1)
                uniform = paired.isEmpty ? .nan : paired.reduce(0.0) { $0 + Double($1) } / Double(paired.count)
            }
            var measured: [String: Double] = [
                "pointing_accuracy": t.pointingAccuracy, "grounded_fraction": t.groundedFraction,
                "energy_share": energy, "energy_share_uniform": uniform, "scored_items": Double(t.scored),
            ]
            for baseline in PointingBaseline.allCases { measured[baselineMeasure(baseline)] = t.baselineAccuracy(baseline) }
            for (measure, value) in measured {
                values[summaryName(measure, set)] = hasPartTruth || measure == "scored_items" ? value : .nan
            }
            let detections = "\(set.rawValue)/detection_grounded"
            if file.exists(detections) {
                let grounded = try file.read(detections, as: UInt8.self).data
                if !grounded.isEmpty {
                    values[summaryName("detection_grounded_fraction", set)] = Double(grounded.filter { $0 == 1 }.count) / Double(grounded.count)
                }
            }
        }
        // The detector route (`ground --detector`): over scored items, as the maps' rates.
        for group in ["clean", "adversarial", "reference"] where file.exists("\(group)/detector_grounded") {
            let scored = try file.read("\(group)/scored", as: UInt8.self).data
            let found = try file.read("\(group)/detector_grounded", as: UInt8.self, expectingShape: try file.shape("\(group)/scored")).data
            let hit = try file.read("\(group)/detector_hit", as: UInt8.self, expectingShape: try file.shape("\(group)/scored")).data
            let n = scored.filter { $0 == 1 }.count
            let grounded = zip(scored, found).filter { $0.0 == 1 && $0.1 == 1 }.count
            let hits = zip(scored, hit).filter { $0.0 == 1 && $0.1 == 1 }.count
            let fraction = hasPartTruth && n > 0 ? Double(grounded) / Double(n) : .nan
            if group == "reference" {
                values["reference_detector_grounded_fraction"] = fraction
            } else {
                values["detector_grounded_fraction_\(group)"] = fraction
                values["detector_pointing_\(group)"] = hasPartTruth && n > 0 ? Double(hits) / Double(n) : .nan
            }
        }
        let reference = try tally("reference")
        values["reference_pointing_accuracy"] = hasPartTruth ? reference.pointingAccuracy : .nan
        values["reference_grounded_fraction"] = hasPartTruth ? reference.groundedFraction : .nan
        for (name, value) in values.sorted(by: { $0.key < $1.key }) { try file.setAttribute(name, .double(value)) }
        return values
    }

    /// Reads the file's rows (index, labels, both image sets' arrays) and its summaries.
    public static func read(_ path: String) throws -> GroundingFile {
        let file = try H5File.open(path)
        defer { file.close() }
        let index = try file.read("index", as: Int64.self, expectingShape: [nil]).data
        let n = index.count
        let labels = try file.read("labels", as: Int32.self, expectingShape: [n]).data
        func set(_ name: String) throws -> GroundedSet {
            let attributes = try file.read("\(name)/attributes", as: Int32.self, expectingShape: [n, nil])
            let k = attributes.shape[1]
            let maps = try file.read("\(name)/maps", as: Float.self, expectingShape: [n, k, nil, nil])
            return GroundedSet(predictions: try file.read("\(name)/predictions", as: Int32.self, expectingShape: [n]).data,
                               generalPredictions: try file.read("\(name)/general_predictions", as: Int32.self, expectingShape: [n]).data,
                               attributes: attributes.data,
                               peaks: try file.read("\(name)/peaks", as: Float.self, expectingShape: [n, k, 2]).data,
                               grounded: try file.read("\(name)/grounded", as: UInt8.self, expectingShape: [n, k]).data,
                               maps: maps.data, mapHeight: maps.shape[2], mapWidth: maps.shape[3],
                               detectorGrounded: file.exists("\(name)/detector_grounded")
                                   ? try file.read("\(name)/detector_grounded", as: UInt8.self, expectingShape: [n, k]).data : nil,
                               detectorPeaks: file.exists("\(name)/detector_peaks")
                                   ? try file.read("\(name)/detector_peaks", as: Float.self, expectingShape: [n, k, 2]).data : nil)
        }
        let clean = try set(ImageSet.clean.rawValue), adversarial = try set(ImageSet.adversarial.rawValue)
        let topK = Int(try file.attribute("top_k").doubleValue ?? 0)
        return GroundingFile(path: path, index: index, labels: labels, topK: topK > 0 ? topK : clean.attributes.count / max(n, 1),
                                 clean: clean, adversarial: adversarial, summary: try GroundingSummary.read(from: file))
    }
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
    /// The detector route's summaries and the detector's own accuracy (`detector_…` root
    /// attributes, present with `ground --detector`).
    public var detector: [String: Double] = [:]

    public var hasDetector: Bool { !detector.isEmpty }

    public func value(_ measure: String, _ set: GroundingFile.ImageSet) -> Double {
        values[measure]?[set] ?? detector[GroundingFile.summaryName(measure, set)] ?? .nan
    }

    /// The summary stored as root attribute `name` (`pointing_accuracy_clean`, …); NaN for another name.
    public func value(named name: String) -> Double {
        for (measure, sets) in values {
            for (set, value) in sets where GroundingFile.summaryName(measure, set) == name { return value }
        }
        return detector[name] ?? .nan
    }

    public static func read(_ path: String) throws -> GroundingSummary {
        let file = try H5File.open(path)
        defer { file.close() }
        return try read(from: file)
    }

    /// The summaries of an open grounding file.
    public static func read(from file: H5File) throws -> GroundingSummary {
        let path = file.path
        func number(_ name: String) throws -> Double {
            guard file.hasAttribute(name) else { return .nan }
            return try file.attribute(name).doubleValue ?? .nan
        }
        var values: [String: [GroundingFile.ImageSet: Double]] = [:]
        for m in GroundingFile.measures {
            for s in GroundingFile.ImageSet.allCases { values[m, default: [:]][s] = try number(GroundingFile.summaryName(m, s)) }
        }
        var detector: [String: Double] = [:]
        let detectorNames = GroundingFile.ImageSet.allCases.flatMap { set in GroundingFile.detectorMeasures.map { GroundingFile.summaryName($0, set) } }
            + ["reference_detector_grounded_fraction"] + DetectorFile.accuracyNames.map { "detector_\($0)" }
        for name in detectorNames where file.hasAttribute(name) { detector[name] = try number(name) }
        return GroundingSummary(path: path, model: try file.attribute("model").stringValue ?? "",
                                eps: try number("eps"), method: try file.attribute("method").stringValue ?? "",
                                transfer: try number("transfer") == 1, hasPartTruth: try number("has_part_truth") == 1,
                                values: values, referencePointingAccuracy: try number("reference_pointing_accuracy"), detector: detector)
    }
}

/// One image set (clean or adversarial) of a grounding file: its per-row arrays.
public struct GroundedSet: Sendable {
    /// Attribute-based class (argmax_y Aᵀφ(y)) and the CNN's class, per row.
    public let predictions: [Int32]
    public let generalPredictions: [Int32]
    /// [N, k] attribute ids, ranked (eq. 7 on clean, eq. 8 on adversarial).
    public let attributes: [Int32]
    /// [N, k, 2] (row, column) in image pixels.
    public let peaks: [Float]
    /// [N, k] 0/1.
    public let grounded: [UInt8]
    /// [N, k, h, w] at feature resolution.
    public let maps: [Float]
    public let mapHeight: Int
    public let mapWidth: Int
    /// The detector route (`ground --detector`): [N, k] 0/1 and [N, k, 2] places; nil without it.
    public var detectorGrounded: [UInt8]? = nil
    public var detectorPeaks: [Float]? = nil
}
