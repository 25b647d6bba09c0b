import Dispatch
import Foundation
import HDF5Store
import ImageIO

/// One image of a real dataset, as its annotation files describe it.
public struct ImportItem: Sendable {
    /// Absolute (or root-joined) path of the image file.
    public var path: String
    /// Path as the dataset lists it (stored in `source_files`).
    public var listedAs: String
    public var label: Int
    public var split: Split
    /// Keypoints in the original image's pixels, one per part name.
    public var keypoints: [Keypoint]?
    /// Box in the original image's pixels.
    public var box: Box?
    /// The annotation line that names the image ("images.txt:12"), for error messages.
    public var citedAt: String?
    /// Per-image attribute labels (0/1, the plan's attribute order), when the dataset has them.
    public var attributes: [Float]?
    /// The annotators' certainty of each label (CUB: 1 not visible, 2 guessing, 3 probably, 4 definitely).
    public var attributeCertainty: [UInt8]?

    public init(path: String, listedAs: String, label: Int, split: Split, keypoints: [Keypoint]? = nil,
                box: Box? = nil, citedAt: String? = nil, attributes: [Float]? = nil, attributeCertainty: [UInt8]? = nil) {
        self.path = path
        self.listedAs = listedAs
        self.label = label
        self.split = split
        self.keypoints = keypoints
        self.box = box
        self.citedAt = citedAt
        self.attributes = attributes
        self.attributeCertainty = attributeCertainty
    }
}

/// A parsed real dataset, ready to be written: class-level arrays plus the image list.
public struct ImportPlan {
    public var classNames: [String]
    public var attributeNames: [String]
    /// C × A in [0, 1].
    public var classAttributes: [Float]
    public var partNames: [String]?
    public var hasBoxes: Bool
    /// Whether every item carries per-image attributes and their certainty (CUB's
    /// image_attribute_labels.txt): written as `image_attributes` and `image_attribute_certainty`.
    public var hasImageAttributes: Bool = false
    public var items: [ImportItem]
    /// Annotation files read (hashed into the output's provenance).
    public var annotationFiles: [String]
    /// Extra root attributes describing choices made on the data (e.g. imputed cells).
    public var notes: [String: H5AttributeValue] = [:]
}

/// How an imported image becomes the stored size × size square; written to images.h5's
/// root attribute `image_transform` (and `resize_shorter` for the centre crop).
public enum StoredImageTransform: Equatable, Sendable {
    /// The whole image resized to size × size, squashing its aspect ratio ("squash").
    case squash
    /// The shorter side resized to `shorter`, then the centred size × size window kept
    /// ("resize-centre-crop"): torchvision's `Resize(shorter)` + `CenterCrop(size)`.
    case resizeCentreCrop(shorter: Int)

    /// The name stored in `image_transform`.
    public var name: String {
        switch self {
        case .squash: "squash"
        case .resizeCentreCrop: "resize-centre-crop"
        }
    }

    /// torchvision's ImageNet evaluation ratio: Resize(256) + CenterCrop(224).
    public static func defaultShorter(size: Int) -> Int { Int((Double(size) * 256 / 224).rounded()) }

    /// The stored image and the map of its keypoints and boxes.
    func apply(_ image: RGBImage, size: Int) -> (RGBImage, ResizeTransform) {
        switch self {
        case .squash:
            return (image.resized(width: size, height: size),
                    ResizeTransform(inWidth: image.width, inHeight: image.height, outWidth: size, outHeight: size))
        case .resizeCentreCrop(let shorter):
            let crop = CentreCrop(inWidth: image.width, inHeight: image.height, shorter: shorter, crop: size)
            return (crop.apply(image), crop.transform)
        }
    }
}

/// What writing a plan did.
public struct ImportReport: Sendable {
    public var written: Int
    /// Images skipped with --skip-bad-images: "path: reason".
    public var skipped: [String]
}

extension ImportPlan {
    /// Decodes, resizes (antialiased bilinear) to size × size as `transform` says (the
    /// whole image squashed, or the shorter side resized and the centre cropped) and
    /// appends the images in batches decoded on `threads` threads; keypoints and boxes are
    /// mapped with each image (keypoints cropped away become invisible, boxes are clipped).
    /// A bad image throws `DatasetError.badImage` naming the file and the line citing it,
    /// unless `skipBadImages`, in which case it is left out, counted and listed in the root
    /// attributes `skipped_count` and `skipped_files` (JSON list).
    @discardableResult
    public func write(to file: H5File, size: Int, transform: StoredImageTransform = .squash, threads: Int,
                      skipBadImages: Bool, batchSize: Int = 64, progress: (Int) -> Void = { _ in }) throws -> ImportReport {
        if case .resizeCentreCrop(let shorter) = transform {
            precondition(shorter >= size, "resize_shorter \(shorter) < crop \(size)")
        }
        let header = DatasetHeader(classNames: classNames, attributeNames: attributeNames, partNames: partNames,
                                   imageSize: size, hasImageAttributes: hasImageAttributes, hasBoxes: hasBoxes,
                                   hasSourceFiles: true, hasAttributeCertainty: hasImageAttributes)
        let writer = try ImagesWriter(file: file, header: header)
        var skipped: [String] = []
        // Decode batch k + 1 while batch k is compressed and written (HDF5 is serial).
        let batches = stride(from: 0, to: items.count, by: batchSize).map { $0..<min(items.count, $0 + batchSize) }
        var current = batches.isEmpty ? [] : decodeBatch(batches[0], size: size, transform: transform, threads: threads)
        for (k, batch) in batches.enumerated() {
            let group = DispatchGroup()
            nonisolated(unsafe) var next: [Result<DatasetSample, ImageIOError>] = []
            if k + 1 < batches.count {
                DispatchQueue.global().async(group: group) { next = self.decodeBatch(batches[k + 1], size: size, transform: transform, threads: threads) }
            }
            var samples: [DatasetSample] = []
            for (item, result) in zip(items[batch], current) {
                switch result {
                case .success(let sample):
                    samples.append(sample)
                case .failure(let error):
                    let reason = error.message + (item.citedAt.map { " (listed at \($0))" } ?? "")
                    guard skipBadImages else {
                        group.wait()
                        throw DatasetError.badImage(path: item.path, reason: reason)
                    }
                    skipped.append("\(item.path): \(reason)")
                }
            }
            do {
                try writer.append(samples)
            } catch {
                group.wait()
                throw error
            }
            group.wait()
            progress(batch.count)
            current = next
        }
        try writer.finish(classAttributes: classAttributes)
        try file.setAttribute("skipped_count", .int(Int64(skipped.count)))
        let json = try JSONSerialization.data(withJSONObject: skipped, options: [.withoutEscapingSlashes])
        try file.setAttribute("skipped_files", .string(String(decoding: json, as: UTF8.self)))
        try file.setAttribute("image_transform", .string(transform.name))
        if case .resizeCentreCrop(let shorter) = transform { try file.setAttribute("resize_shorter", .int(Int64(shorter))) }
        for (name, value) in notes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(name, value) }
        return ImportReport(written: writer.count, skipped: skipped)
    }

    /// Decodes and transforms `items[range]` on `threads` threads, results in order.
    func decodeBatch(_ range: Range<Int>, size: Int, transform: StoredImageTransform, threads: Int) -> [Result<DatasetSample, ImageIOError>] {
        var results = [Result<DatasetSample, ImageIOError>?](repeating: nil, count: range.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let workers = max(1, min(threads, range.count))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for j in stride(from: w, to: range.count, by: workers) {
                    let item = items[range.lowerBound + j]
                    (base + j).pointee = Result { () throws(ImageIOError) in try Self.load(item, size: size, transform: transform) }
                }
            }
        }
        return results.map { $0! }
    }

    static func load(_ item: ImportItem, size: Int, transform stored: StoredImageTransform) throws(ImageIOError) -> DatasetSample {
        let original = try ImageDecoder.decode(contentsOf: item.path)
        let (image, transform) = stored.apply(original, size: size)
        return DatasetSample(image: image, label: item.label, split: item.split,
                             attributes: item.attributes,
                             keypoints: item.keypoints?.map(transform.apply), box: item.box.map(transform.apply),
                             sourceFile: item.listedAs, attributeCertainty: item.attributeCertainty)
    }
}
