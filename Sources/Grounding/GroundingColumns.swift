import HDF5Store

/// One batch of grounded rows, per selection (clean, adversarial, reference) or per image
/// set (clean, adversarial), each row-major [rows, k, …] as the grounding file stores it.
public struct GroundingBatch: Sendable {
    public typealias Selection = GroundingFile.Selection
    public typealias ImageSet = GroundingFile.ImageSet

    /// Attribute-based class and the CNN's class, per row.
    public var predictions: [ImageSet: [Int32]] = [:]
    public var general: [ImageSet: [Int32]] = [:]
    /// Predicted attribute vectors as predict-attributes stores them, [rows, A].
    public var attributeVectors: [ImageSet: [Float]] = [:]
    /// The class the clean image's attributes are compared with (eq. 7), per row.
    public var wrongClass: [Int32] = []
    public var attributes: [Selection: [Int32]] = [:]
    /// The ranking value of each selected attribute.
    public var rankScores: [Selection: [Float]] = [:]
    public var peaks: [Selection: [Float]] = [:]
    public var hit: [Selection: [UInt8]] = [:]
    public var grounded: [Selection: [UInt8]] = [:]
    public var scored: [Selection: [UInt8]] = [:]
    public var energy: [Selection: [Float]] = [:]
    public var uniformEnergy: [Selection: [Float]] = [:]
    public var baselineHits: [Selection: [UInt8]] = [:]
    /// [rows, k, h, w] per selection (the reference's are kept out of the file).
    public var maps: [Selection: [Float]] = [:]
    public var mapScale: [ImageSet: [Float]] = [:]
    public var detectionGrounded: [ImageSet: [UInt8]] = [:]
    /// The trained detector's route (`ground --detector`), per selection: found (1/0), where
    /// (row, column; NaN without a part), and whether that place is on the attribute's part
    /// (1 hit, 0 miss, `PointingBaseline.notPlayed` where the item is not scored).
    public var detectorGrounded: [Selection: [UInt8]] = [:]
    public var detectorPeaks: [Selection: [Float]] = [:]
    public var detectorHit: [Selection: [UInt8]] = [:]

    public init() {}

    /// Records one scored item of `selection`.
    public mutating func add(_ item: ScoredItem, _ selection: Selection, attribute: Int) {
        attributes[selection, default: []].append(Int32(attribute))
        peaks[selection, default: []] += [item.peak.row, item.peak.column]
        hit[selection, default: []].append(item.hit ? 1 : 0)
        grounded[selection, default: []].append(item.grounded ? 1 : 0)
        scored[selection, default: []].append(item.scored ? 1 : 0)
        energy[selection, default: []].append(item.energy)
        uniformEnergy[selection, default: []].append(item.uniformEnergy)
        baselineHits[selection, default: []] += item.baselineCodes
    }
}

/// The grounding file's per-row datasets, appended batch by batch, and the small per-image
/// columns kept until the end (the summaries are computed from the file afterwards).
public struct GroundingColumns: Sendable {
    public typealias Selection = GroundingFile.Selection
    public typealias ImageSet = GroundingFile.ImageSet

    public private(set) var predictions: [ImageSet: [Int32]] = [:]
    public private(set) var general: [ImageSet: [Int32]] = [:]
    public private(set) var wrongClass: [Int32] = []
    /// The image sets that have detector files.
    private let detections: Set<ImageSet>
    /// Whether a trained detector grounds the items (`ground --detector`).
    private let detector: Bool

    public init(detections: Set<ImageSet>, detector: Bool = false) { self.detections = detections; self.detector = detector }

    /// The per-selection datasets of the detector route.
    public static let detectorDatasets = ["detector_grounded", "detector_peaks", "detector_hit"]

    /// Every dataset with one row per adversarial row, which merge-shards concatenates.
    public static func rowDatasets(detections: Set<ImageSet>, detector: Bool = false) -> [String] {
        var names = ["index", "labels", "clean/wrong_class"]
        for selection in Selection.allCases {
            var perRow = ["attributes", "scores", "peaks", "hit", "grounded", "scored", "energy", "uniform_energy", "baseline_hits"]
                + (detector ? detectorDatasets : [])
            if let set = ImageSet(rawValue: selection.rawValue) {
                perRow += ["maps", "map_scale", "predictions", "general_predictions"] + (detections.contains(set) ? ["detection_grounded"] : [])
            }
            names += perRow.map { "\(selection.rawValue)/\($0)" }
        }
        return names
    }

    /// Creates the appendable datasets: `k` attributes per row, maps of `mapRows` × `mapColumns`.
    public func create(in file: H5File, k: Int, mapRows: Int, mapColumns: Int) throws {
        let chunk = max(1, 4096 / k)
        for selection in Selection.allCases {
            let group = selection.rawValue
            try file.createAppendable("\(group)/attributes", of: Int32.self, rowShape: [k], chunkRows: chunk)
            try file.createAppendable("\(group)/scores", of: Float.self, rowShape: [k], chunkRows: chunk)
            try file.createAppendable("\(group)/peaks", of: Float.self, rowShape: [k, 2], chunkRows: chunk)
            for name in ["hit", "grounded", "scored"] {
                try file.createAppendable("\(group)/\(name)", of: UInt8.self, rowShape: [k], chunkRows: chunk)
            }
            try file.createAppendable("\(group)/energy", of: Float.self, rowShape: [k], chunkRows: chunk)
            try file.createAppendable("\(group)/uniform_energy", of: Float.self, rowShape: [k], chunkRows: chunk)
            try file.createAppendable("\(group)/baseline_hits", of: UInt8.self, rowShape: [k, PointingBaseline.allCases.count],
                                      chunkRows: chunk)
            if detector {
                try file.createAppendable("\(group)/detector_grounded", of: UInt8.self, rowShape: [k], chunkRows: chunk)
                try file.createAppendable("\(group)/detector_peaks", of: Float.self, rowShape: [k, 2], chunkRows: chunk)
                try file.createAppendable("\(group)/detector_hit", of: UInt8.self, rowShape: [k], chunkRows: chunk)
            }
            guard let set = ImageSet(rawValue: group) else { continue }
            try file.createAppendable("\(group)/maps", of: Float.self, rowShape: [k, mapRows, mapColumns],
                                      chunkRows: max(1, 16384 / (k * mapRows * mapColumns)))
            try file.createAppendable("\(group)/map_scale", of: Float.self, rowShape: [], chunkRows: 4096)
            if detections.contains(set) {
                try file.createAppendable("\(group)/detection_grounded", of: UInt8.self, rowShape: [k], chunkRows: chunk)
            }
        }
    }

    /// Appends a batch's rows to the file and keeps its per-image columns.
    public mutating func append(_ batch: GroundingBatch, to file: H5File) throws {
        for selection in Selection.allCases {
            let group = selection.rawValue
            try file.append("\(group)/attributes", batch.attributes[selection] ?? [])
            try file.append("\(group)/scores", batch.rankScores[selection] ?? [])
            try file.append("\(group)/peaks", batch.peaks[selection] ?? [])
            try file.append("\(group)/hit", batch.hit[selection] ?? [])
            try file.append("\(group)/grounded", batch.grounded[selection] ?? [])
            try file.append("\(group)/scored", batch.scored[selection] ?? [])
            try file.append("\(group)/energy", batch.energy[selection] ?? [])
            try file.append("\(group)/uniform_energy", batch.uniformEnergy[selection] ?? [])
            try file.append("\(group)/baseline_hits", batch.baselineHits[selection] ?? [])
            if detector {
                try file.append("\(group)/detector_grounded", batch.detectorGrounded[selection] ?? [])
                try file.append("\(group)/detector_peaks", batch.detectorPeaks[selection] ?? [])
                try file.append("\(group)/detector_hit", batch.detectorHit[selection] ?? [])
            }
            guard let set = ImageSet(rawValue: group) else { continue }
            try file.append("\(group)/maps", batch.maps[selection] ?? [])
            try file.append("\(group)/map_scale", batch.mapScale[set] ?? [])
            predictions[set, default: []] += batch.predictions[set] ?? []
            general[set, default: []] += batch.general[set] ?? []
            if detections.contains(set) {
                try file.append("\(group)/detection_grounded", batch.detectionGrounded[set] ?? [])
            }
        }
        wrongClass += batch.wrongClass
    }

    /// Writes the per-image columns kept in memory (`n` rows).
    public func writeKept(to file: H5File, rows n: Int) throws {
        for set in ImageSet.allCases {
            try file.write("\(set.rawValue)/predictions", predictions[set] ?? [], shape: [n])
            try file.write("\(set.rawValue)/general_predictions", general[set] ?? [], shape: [n])
        }
        try file.write("clean/wrong_class", wrongClass, shape: [n])
    }
}
