import Foundation
import Grounding
import HDF5Store
import ImageIO
import PipelineKit
import Randomness

/// An adversarial file as the panels use it: images by their images.h5 row.
struct AdversarialImages {
    let path: String
    let file: H5File
    let index: [Int64]
    let labels: [Int32]
    let cleanPredictions: [Int32]
    let advPredictions: [Int32]
    let height: Int, width: Int

    static func open(_ path: String, producedBy target: String) throws -> AdversarialImages {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StageError("\(path): missing. The explanation panels need the attack stage's adversarial images; run "
                             + "`make \(target)` (stage attack) first.")
        }
        let file = try H5File.open(path)
        let index = try file.read("index", as: Int64.self, expectingShape: [nil]).data
        let n = index.count
        let shape = try file.shape("images")
        guard shape.count == 4, shape[0] == n, shape[3] == 3 else {
            throw H5Error(file: path, object: "/images", message: "expected shape [\(n), H, W, 3], found \(shape)")
        }
        return AdversarialImages(path: path, file: file, index: index,
                                 labels: try file.read("labels", as: Int32.self, expectingShape: [n]).data,
                                 cleanPredictions: try file.read("clean_predictions", as: Int32.self, expectingShape: [n]).data,
                                 advPredictions: try file.read("adv_predictions", as: Int32.self, expectingShape: [n]).data,
                                 height: shape[1], width: shape[2])
    }

    func row(of image: Int64) -> Int? { index.firstIndex(of: image) }

    /// Row `r` as 8-bit RGB (pixels in [0,1] rounded to the nearest level).
    func image(row r: Int) throws -> RGBImage {
        let values = try file.readRows("images", r..<(r + 1), as: Float.self).data
        return RGBImage(width: width, height: height, pixels: values.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) })
    }
}

/// Why an image is on the page.
public enum PanelReason: Sendable, Equatable {
    case confident(probability: Double)
    case random
    case requested

    var text: String {
        switch self {
        case .confident(let p): return String(format: "one of the most confident misclassifications (standard model, p = %.2f)", p)
        case .random: return "seeded random sample"
        case .requested: return "requested with --images"
        }
    }
}

/// Chooses the images shown per eps: the standard model's most confident misclassifications
/// (right when clean, wrong under attack; confidence = softmax probability of the wrong
/// class) plus a seeded random sample of the attacked images, or the images asked for.
public struct PanelSelection: Sendable {
    public var confident: Int
    public var random: Int
    public var requested: [Int64]?
    public var seed: UInt64

    public init(confident: Int, random: Int, requested: [Int64]?, seed: UInt64) {
        self.confident = confident
        self.random = random
        self.requested = requested
        self.seed = seed
    }

    /// Images for one eps, in page order, with the reason for each.
    func choose(standard: AdversarialImages, logits: [Float], classes: Int, available: Set<Int64>) -> [(Int64, PanelReason)] {
        if let requested { return requested.filter(available.contains).map { ($0, .requested) } }
        var scored: [(Int64, Double)] = []
        for r in standard.index.indices where standard.cleanPredictions[r] == standard.labels[r]
            && standard.advPredictions[r] != standard.labels[r] && available.contains(standard.index[r]) {
            let row = logits[(r * classes)..<((r + 1) * classes)]
            let top = row.max()!
            let total = row.reduce(0.0) { $0 + exp(Double($1 - top)) }
            scored.append((standard.index[r], exp(Double(row[row.startIndex + Int(standard.advPredictions[r])] - top)) / total))
        }
        scored.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        var chosen = scored.prefix(confident).map { ($0.0, PanelReason.confident(probability: $0.1)) }
        // The random sample is drawn from every attacked image, the same draw for every eps.
        var rng = SplitMix(seed: seed, stream: RandomStreams.reportSample)
        let pool = standard.index.filter(available.contains).sorted()
        for i in rng.permutation(pool.count) where chosen.count < confident + random && !chosen.contains(where: { $0.0 == pool[i] }) {
            chosen.append((pool[i], .random))
        }
        return chosen
    }
}

/// One image column of a panel: a PNG, its map overlay, and the ranked attributes.
struct PanelColumn {
    let heading: String
    let image: String
    let map: String?
    let attributes: [(name: String, grounded: Bool, peak: (row: Double, column: Double)?)]
}

/// A panel: the clean image and its adversarials against the standard and the robust model.
struct ExplanationPanel {
    let eps: Epsilon
    let image: Int64
    let reason: PanelReason
    let caption: String
    let columns: [PanelColumn]
    /// Displayed size (the stored image enlarged `scale` times).
    let width: Int, height: Int
    let scale: Int
}

/// Colours of ranked grounded attributes (rank 1 first); ungrounded ones are grey.
let attributePalette: [(UInt8, UInt8, UInt8)] = [
    (0xe6, 0x19, 0x4b), (0x1f, 0x78, 0xb4), (0x33, 0xa0, 0x2c), (0xff, 0x7f, 0x00), (0x6a, 0x3d, 0x9a),
    (0x00, 0x9e, 0x9e), (0xb1, 0x59, 0x28), (0xe7, 0x29, 0x8a), (0x66, 0x66, 0x00), (0x1a, 0x1a, 0x8c),
]

func paletteHex(_ rank: Int) -> String {
    let c = attributePalette[rank % attributePalette.count]
    return String(format: "#%02x%02x%02x", c.0, c.1, c.2)
}

/// Writes the panels' PNGs under `root/panels/` and returns what the page shows.
struct PanelWriter {
    let metrics: DatasetMetrics
    let grounding: DatasetGrounding
    let selection: PanelSelection
    let root: String
    let scale: Int?

    func write() throws -> [Epsilon: [ExplanationPanel]] {
        let layout = metrics.layout
        let imagesPath = layout.images
        guard FileManager.default.fileExists(atPath: imagesPath) else {
            throw StageError("\(imagesPath): missing. The explanation panels need the dataset's images; run `make \(imagesPath)` "
                             + "(stage prepare-data) first.")
        }
        let images = try H5File.open(imagesPath)
        defer { images.close() }
        let imageShape = try images.shape("images")
        guard imageShape.count == 4, imageShape[3] == 3 else {
            throw H5Error(file: imagesPath, object: "/images", message: "expected shape [N, H, W, 3], found \(imageShape)")
        }
        // Large enough that a part of 1–3 stored pixels is visible (8× at 32 px).
        let factor = scale ?? max(1, 256 / max(imageShape[1], imageShape[2]))
        var result: [Epsilon: [ExplanationPanel]] = [:]
        let chain = ProvenanceChain()
        for eps in metrics.eps {
            let standardPath = layout.adversarial(of: .standard, eps: eps), robustPath = layout.adversarial(of: .robust, eps: eps)
            let standard = try AdversarialImages.open(standardPath, producedBy: standardPath)
            defer { standard.file.close() }
            let robust = try AdversarialImages.open(robustPath, producedBy: robustPath)
            defer { robust.file.close() }
            let featuresPath = layout.features(DatasetLayout.standard, DatasetLayout.adversarialSet(eps))
            guard FileManager.default.fileExists(atPath: featuresPath) else {
                throw StageError("\(featuresPath): missing. The panels rank misclassifications by the standard model's logits; "
                                 + "run `make \(featuresPath)` (stage extract-features) first.")
            }
            // Each file in its slot: the adversarial files made against this directory's
            // models, the features from the standard model's adversarial file.
            for (adversarial, model) in [(standardPath, DatasetLayout.standard), (robustPath, layout.robustModel(at: eps))]
                where FileManager.default.fileExists(atPath: layout.model(model)) {
                try chain.requireDerived(adversarial, from: layout.model(model), as: "model")
            }
            try chain.requireDerived(featuresPath, from: standardPath, as: "adversarial file")
            let features = try H5File.open(featuresPath)
            let logits = try features.read("logits", as: Float.self, expectingShape: [standard.index.count, metrics.classNames.count]).data
            let featureIndex = try features.read("index", as: Int64.self).data
            features.close()
            guard featureIndex == standard.index else {
                throw StageError("\(featuresPath): its rows (index) do not line up with \(standardPath)'s")
            }
            var available = Set(standard.index).intersection(robust.index)
            var files: [GroundingRole: GroundingFile] = [:]
            if case .present(let all) = grounding, let forEps = all[eps] {
                files = forEps
                available.formIntersection(forEps[.standard]!.index)
                available.formIntersection(forEps[.robust]!.index)
            }
            if let requested = selection.requested, let missing = requested.first(where: { !available.contains($0) }) {
                throw StageError("--images: image \(missing) is not among the attacked test images at eps \(eps) "
                                 + "(\(standardPath) and \(robustPath)\(files.isEmpty ? "" : " and the grounding files"))")
            }
            let chosen = selection.choose(standard: standard, logits: logits, classes: metrics.classNames.count, available: available)
            var panels: [ExplanationPanel] = []
            for (image, reason) in chosen {
                panels.append(try panel(eps: eps, image: image, reason: reason, images: images, standard: standard, robust: robust,
                                        grounding: files, factor: factor))
            }
            result[eps] = panels
        }
        return result
    }

    func panel(eps: Epsilon, image: Int64, reason: PanelReason, images: H5File, standard: AdversarialImages, robust: AdversarialImages,
               grounding: [GroundingRole: GroundingFile], factor: Int) throws -> ExplanationPanel {
        let name = { (i: Int) in i >= 0 && i < metrics.classNames.count ? displayClass(metrics.classNames[i]) : "class \(i)" }
        let s = standard.row(of: image)!, r = robust.row(of: image)!
        let clean = try images.readRows("images", Int(image)..<(Int(image) + 1), as: UInt8.self)
        let cleanImage = RGBImage(width: clean.shape[2], height: clean.shape[1], pixels: clean.data)
        let caption = "true: \(name(Int(standard.labels[s]))) · standard: \(name(Int(standard.advPredictions[s]))) · "
            + "robust: \(name(Int(robust.advPredictions[r])))"
        let folder = "panels/\(eps.fileTag)"
        try FileManager.default.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true)
        var columns: [PanelColumn] = []
        let sources: [(String, String, RGBImage, GroundingRole, Bool)] = [
            ("clean", "clean image (f: \(name(Int(standard.cleanPredictions[s]))))", cleanImage, .standard, true),
            ("standard", "adversarial vs standard model (f: \(name(Int(standard.advPredictions[s]))))", try standard.image(row: s), .standard, false),
            ("robust", "adversarial vs robust model (f: \(name(Int(robust.advPredictions[r]))))", try robust.image(row: r), .robust, false),
        ]
        for (key, heading, picture, role, isClean) in sources {
            let base = "\(folder)/\(image)-\(key)"
            try writePNG(picture.upscaledNearest(by: factor), to: "\(root)/\(base).png")
            var attributes: [(name: String, grounded: Bool, peak: (row: Double, column: Double)?)] = []
            var map: String?
            if let file = grounding[role], let row = file.row(of: image) {
                let set = isClean ? file.clean : file.adversarial
                let k = set.attributes.count / max(file.index.count, 1)
                for j in 0..<k {
                    let id = Int(set.attributes[row * k + j])
                    // The paper's route where the file has it: grounded when the detector finds the
                    // value on its part, marked at the detector's place; else the map's peak on the part.
                    let grounded: Bool, peak: (Double, Double)
                    if let found = set.detectorGrounded, let places = set.detectorPeaks {
                        grounded = file.hasPartTruth && found[row * k + j] != 0
                        peak = (Double(places[(row * k + j) * 2]), Double(places[(row * k + j) * 2 + 1]))
                    } else {
                        grounded = file.hasPartTruth && set.grounded[row * k + j] != 0
                        peak = (Double(set.peaks[(row * k + j) * 2]), Double(set.peaks[(row * k + j) * 2 + 1]))
                    }
                    attributes.append((id >= 0 && id < metrics.attributeNames.count ? displayAttribute(metrics.attributeNames[id]) : "attribute \(id)",
                                       grounded, grounded ? peak : nil))
                }
                let overlay = mapOverlay(set, row: row, k: k, grounded: attributes.map(\.grounded),
                                         width: picture.width * factor, height: picture.height * factor)
                try writePNG(rgba: overlay, width: picture.width * factor, height: picture.height * factor, to: "\(root)/\(base)-map.png")
                map = "\(base)-map.png"
            }
            columns.append(PanelColumn(heading: heading, image: "\(base).png", map: map, attributes: attributes))
        }
        return ExplanationPanel(eps: eps, image: image, reason: reason, caption: caption, columns: columns,
                                width: cleanImage.width * factor, height: cleanImage.height * factor, scale: factor)
    }

    /// The attribute maps as one RGBA overlay at display size: each pixel takes the colour of
    /// the attribute whose map (scaled to its own maximum) is strongest there — its palette
    /// colour when grounded, grey when not — with opacity growing with that strength.
    /// Maps are at feature resolution; each cell covers its share of the image (nearest).
    func mapOverlay(_ set: GroundedSet, row: Int, k: Int, grounded: [Bool], width: Int, height: Int) -> [UInt8] {
        let h = set.mapHeight, w = set.mapWidth
        let cells = h * w
        var maxima = [Float](repeating: 0, count: k)
        for j in 0..<k {
            let start = (row * k + j) * cells
            maxima[j] = set.maps[start..<(start + cells)].reduce(0) { max($0, $1.isFinite ? $1 : 0) }
        }
        var out = [UInt8](repeating: 0, count: width * height * 4)
        for y in 0..<height {
            let cy = min(h - 1, y * h / height)
            for x in 0..<width {
                let cx = min(w - 1, x * w / width)
                var best = -1, strength: Float = 0
                for j in 0..<k where maxima[j] > 0 {
                    let v = set.maps[(row * k + j) * cells + cy * w + cx] / maxima[j]
                    if v.isFinite && v > strength { strength = v; best = j }
                }
                guard best >= 0 else { continue }
                let colour = grounded[best] ? attributePalette[best % attributePalette.count] : (0x80, 0x80, 0x80)
                let o = (y * width + x) * 4
                out[o] = colour.0; out[o + 1] = colour.1; out[o + 2] = colour.2
                out[o + 3] = UInt8(max(0, min(255, (strength * 0.7 * 255).rounded())))
            }
        }
        return out
    }

    func writePNG(_ image: RGBImage, to path: String) throws {
        do { try ImageEncoder.writePNG(image, to: path) } catch { throw StageError("\(path): cannot write the PNG: \(error)") }
    }

    func writePNG(rgba: [UInt8], width: Int, height: Int, to path: String) throws {
        do {
            let bytes = try ImageEncoder.png(samples: rgba, width: width, height: height, channels: 4)
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw StageError("\(path): cannot write file") }
        } catch let error as StageError { throw error } catch { throw StageError("\(path): cannot write the PNG: \(error)") }
    }
}
