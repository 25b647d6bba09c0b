import Grounding
import HDF5Store

/// One batch's results, per set (0 clean, 1 adversarial, 2 reference), row-major [rows, k, …].
struct BatchColumns {
    var predictions: [[Int32]] = [[], []]
    var general: [[Int32]] = [[], []]
    var attributeVectors: [[Float]] = [[], []]
    var wrongClass: [Int32] = []
    var attributes: [[Int32]] = [[], [], []]
    var rankScores: [[Float]] = [[], [], []]
    var peaks: [[Float]] = [[], [], []]
    var hit: [[UInt8]] = [[], [], []]
    var grounded: [[UInt8]] = [[], [], []]
    var scored: [[UInt8]] = [[], [], []]
    var energy: [[Float]] = [[], [], []]
    var baselineHits: [[UInt8]] = [[], [], []]
    var maps: [[Float]] = [[], [], []]
    var mapScale: [[Float]] = [[], []]
    var detectionGrounded: [[UInt8]] = [[], []]

    /// Records one scored item of `set`.
    mutating func add(_ item: ScoredItem, set: Int, attribute: Int) {
        attributes[set].append(Int32(attribute))
        peaks[set] += [item.peak.row, item.peak.column]
        hit[set].append(item.hit ? 1 : 0)
        grounded[set].append(item.grounded ? 1 : 0)
        scored[set].append(item.scored ? 1 : 0)
        energy[set].append(item.energy)
        baselineHits[set] += item.baselineCodes
    }
}

/// The grounding file's per-row datasets, appended batch by batch, and the small per-image
/// columns kept until the end (the summaries are computed from the file afterwards).
struct Columns {
    var predictions: [[Int32]] = [[], []]
    var general: [[Int32]] = [[], []]
    var wrongClass: [Int32] = []
    private var withDetections = [false, false]

    static let groups = ["clean", "adversarial", "reference"]

    /// Every dataset with one row per adversarial row, which merge-shards concatenates
    /// (`detections`: whether the clean and the adversarial set have detections).
    static func rowDatasets(detections: [Bool]) -> [String] {
        var names = ["index", "labels", "clean/wrong_class"]
        for (s, group) in groups.enumerated() {
            var perRow = ["attributes", "scores", "peaks", "hit", "grounded", "scored", "energy", "baseline_hits"]
            if s < 2 { perRow += ["maps", "map_scale", "predictions", "general_predictions"] + (detections[s] ? ["detection_grounded"] : []) }
            names += perRow.map { "\(group)/\($0)" }
        }
        return names
    }

    mutating func create(in file: H5File, k: Int, mapRows: Int, mapColumns: Int, detections: [Bool]) throws {
        withDetections = detections
        let chunk = max(1, 4096 / k)
        for (s, group) in Self.groups.enumerated() {
            try file.createAppendable("\(group)/attributes", of: Int32.self, rowShape: [k], chunkRows: chunk)
            try file.createAppendable("\(group)/scores", of: Float.self, rowShape: [k], chunkRows: chunk)
            try file.createAppendable("\(group)/peaks", of: Float.self, rowShape: [k, 2], chunkRows: chunk)
            for name in ["hit", "grounded", "scored"] {
                try file.createAppendable("\(group)/\(name)", of: UInt8.self, rowShape: [k], chunkRows: chunk)
            }
            try file.createAppendable("\(group)/energy", of: Float.self, rowShape: [k], chunkRows: chunk)
            try file.createAppendable("\(group)/baseline_hits", of: UInt8.self, rowShape: [k, PointingBaseline.allCases.count],
                                      chunkRows: chunk)
            guard s < 2 else { continue }
            try file.createAppendable("\(group)/maps", of: Float.self, rowShape: [k, mapRows, mapColumns],
                                      chunkRows: max(1, 16384 / (k * mapRows * mapColumns)))
            try file.createAppendable("\(group)/map_scale", of: Float.self, rowShape: [], chunkRows: 4096)
            if detections[s] {
                try file.createAppendable("\(group)/detection_grounded", of: UInt8.self, rowShape: [k], chunkRows: chunk)
            }
        }
    }

    mutating func append(_ batch: BatchColumns, to file: H5File, k: Int) throws {
        for (s, group) in Self.groups.enumerated() {
            try file.append("\(group)/attributes", batch.attributes[s])
            try file.append("\(group)/scores", batch.rankScores[s])
            try file.append("\(group)/peaks", batch.peaks[s])
            try file.append("\(group)/hit", batch.hit[s])
            try file.append("\(group)/grounded", batch.grounded[s])
            try file.append("\(group)/scored", batch.scored[s])
            try file.append("\(group)/energy", batch.energy[s])
            try file.append("\(group)/baseline_hits", batch.baselineHits[s])
            guard s < 2 else { continue }
            try file.append("\(group)/maps", batch.maps[s])
            try file.append("\(group)/map_scale", batch.mapScale[s])
            predictions[s] += batch.predictions[s]
            general[s] += batch.general[s]
            if withDetections[s] {
                try file.append("\(group)/detection_grounded", batch.detectionGrounded[s])
            }
        }
        wrongClass += batch.wrongClass
    }
}
