import HDF5Store
import ImageIO

/// Which split an image belongs to, stored as images.h5's `split` (uint8).
public enum Split: UInt8, CaseIterable, Sendable {
    case train = 0, val = 1, test = 2
}

/// What an images.h5 holds besides its images: fixed before the first image is written.
public struct DatasetHeader: Sendable {
    public var classNames: [String]
    public var attributeNames: [String]
    /// Part names when the dataset has keypoints (CUB's 15), else nil.
    public var partNames: [String]?
    /// Side of the stored square images.
    public var imageSize: Int
    public var hasImageAttributes: Bool
    public var hasBoxes: Bool
    public var hasSourceFiles: Bool

    public init(classNames: [String], attributeNames: [String], partNames: [String]? = nil, imageSize: Int,
                hasImageAttributes: Bool = false, hasBoxes: Bool = false, hasSourceFiles: Bool = false) {
        self.classNames = classNames
        self.attributeNames = attributeNames
        self.partNames = partNames
        self.imageSize = imageSize
        self.hasImageAttributes = hasImageAttributes
        self.hasBoxes = hasBoxes
        self.hasSourceFiles = hasSourceFiles
    }
}

/// One image and its annotations, already at the stored size.
public struct DatasetSample: Sendable {
    public var image: RGBImage
    public var label: Int
    public var split: Split
    /// Per-image attribute vector (the header's attribute order), when the dataset has one.
    public var attributes: [Float]?
    /// One keypoint per header part, in stored-image pixels.
    public var keypoints: [Keypoint]?
    public var box: Box?
    public var sourceFile: String?

    public init(image: RGBImage, label: Int, split: Split, attributes: [Float]? = nil,
                keypoints: [Keypoint]? = nil, box: Box? = nil, sourceFile: String? = nil) {
        self.image = image
        self.label = label
        self.split = split
        self.attributes = attributes
        self.keypoints = keypoints
        self.box = box
        self.sourceFile = sourceFile
    }
}

/// Writes images.h5 as DESIGN.md's schema fixes it: images stream to a chunked,
/// compressed `images` uint8 [N, H, W, 3] batch by batch; the small per-image arrays
/// (`labels`, `split`, `image_attributes`, `part_keypoints`, `boxes`, `source_files`) are
/// kept until `finish`, which also writes the class-level arrays.
public final class ImagesWriter {
    public let file: H5File
    public let header: DatasetHeader
    public private(set) var count = 0
    private var labels: [Int32] = []
    private var splits: [UInt8] = []
    private var imageAttributes: [Float] = []
    private var keypoints: [Float] = []
    private var boxes: [Float] = []
    private var sourceFiles: [String] = []

    /// Creates the `images` dataset in `file` (chunks of about 1 MB of rows).
    public init(file: H5File, header: DatasetHeader) throws {
        self.file = file
        self.header = header
        let rowBytes = header.imageSize * header.imageSize * 3
        try file.createAppendable("images", of: UInt8.self, rowShape: [header.imageSize, header.imageSize, 3],
                                  chunkRows: max(1, min(1024, (1 << 20) / rowBytes)), compress: true)
    }

    /// Appends a batch; traps on samples that contradict the header (programmer errors).
    public func append(_ samples: [DatasetSample]) throws {
        guard !samples.isEmpty else { return }
        let n = header.imageSize
        var pixels: [UInt8] = []
        pixels.reserveCapacity(samples.count * n * n * 3)
        for s in samples {
            precondition(s.image.width == n && s.image.height == n, "image is \(s.image.width)×\(s.image.height), expected \(n)×\(n)")
            precondition((0..<header.classNames.count).contains(s.label), "label \(s.label) out of range")
            pixels.append(contentsOf: s.image.pixels)
            labels.append(Int32(s.label))
            splits.append(s.split.rawValue)
            if header.hasImageAttributes {
                let a = s.attributes!
                precondition(a.count == header.attributeNames.count)
                imageAttributes.append(contentsOf: a)
            }
            if let parts = header.partNames {
                let k = s.keypoints!
                precondition(k.count == parts.count)
                for p in k { keypoints.append(contentsOf: [Float(p.x), Float(p.y), p.visible ? 1 : 0]) }
            }
            if header.hasBoxes {
                let b = s.box!
                boxes.append(contentsOf: [Float(b.x), Float(b.y), Float(b.width), Float(b.height)])
            }
            if header.hasSourceFiles { sourceFiles.append(s.sourceFile ?? "") }
        }
        try file.append("images", pixels)
        count += samples.count
    }

    /// Writes everything but the images. `classAttributes` (C × A, in [0, 1]) is stored as
    /// given; when nil it is computed as the per-class mean of the image attributes, CUB's
    /// definition (the fraction of the class's images showing each attribute).
    /// Throws if a class has no image at all.
    public func finish(classAttributes given: [Float]?) throws {
        let c = header.classNames.count, a = header.attributeNames.count
        var perClass = [Int](repeating: 0, count: c)
        for l in labels { perClass[Int(l)] += 1 }
        if let empty = perClass.firstIndex(of: 0) {
            throw DatasetError.invalid(path: file.path, reason: "class \(empty) (\(header.classNames[empty])) has no images")
        }
        let classAttributes: [Float]
        if let given {
            precondition(given.count == c * a)
            classAttributes = given
        } else {
            precondition(header.hasImageAttributes, "class attributes must be given or derivable")
            var sums = [Double](repeating: 0, count: c * a)
            for (i, l) in labels.enumerated() {
                for j in 0..<a { sums[Int(l) * a + j] += Double(imageAttributes[i * a + j]) }
            }
            classAttributes = sums.enumerated().map { Float($1 / Double(perClass[$0 / a])) }
        }
        try file.write("labels", labels, shape: [count])
        try file.write("split", splits, shape: [count])
        try file.writeStrings("class_names", header.classNames)
        try file.writeStrings("attribute_names", header.attributeNames)
        try file.write("class_attributes", classAttributes, shape: [c, a])
        if header.hasImageAttributes { try file.write("image_attributes", imageAttributes, shape: [count, a], compress: true) }
        if let parts = header.partNames {
            try file.writeStrings("part_names", parts)
            try file.write("part_keypoints", keypoints, shape: [count, parts.count, 3], compress: true)
        }
        if header.hasBoxes { try file.write("boxes", boxes, shape: [count, 4]) }
        if header.hasSourceFiles { try file.writeStrings("source_files", sourceFiles) }
        let counts = Split.allCases.map { s in Int64(splits.lazy.filter { $0 == s.rawValue }.count) }
        try file.setAttribute("split_counts", .ints(counts))  // train, val, test
        try file.setAttribute("image_size", .int(Int64(header.imageSize)))
    }
}
