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
    /// Whether every sample carries a part mask (rendered sets): `part_masks` uint8 [N, H, W].
    public var hasPartMasks: Bool
    /// Parts of each attribute (indices into `partNames`), stored as `attribute_parts`
    /// int32 [A, m], −1 padded; nil when the dataset does not know.
    public var attributeParts: [[Int]]?
    /// Whether every sample carries a certainty per attribute (CUB's annotators):
    /// `image_attribute_certainty` uint8 [N, A].
    public var hasAttributeCertainty: Bool

    public init(classNames: [String], attributeNames: [String], partNames: [String]? = nil, imageSize: Int,
                hasImageAttributes: Bool = false, hasBoxes: Bool = false, hasSourceFiles: Bool = false,
                hasPartMasks: Bool = false, attributeParts: [[Int]]? = nil, hasAttributeCertainty: Bool = false) {
        self.classNames = classNames
        self.attributeNames = attributeNames
        self.partNames = partNames
        self.imageSize = imageSize
        self.hasImageAttributes = hasImageAttributes
        self.hasBoxes = hasBoxes
        self.hasSourceFiles = hasSourceFiles
        self.hasPartMasks = hasPartMasks
        self.attributeParts = attributeParts
        self.hasAttributeCertainty = hasAttributeCertainty
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
    /// Per pixel: 0 background, p + 1 for part p of the header's part names.
    public var partMask: [UInt8]?
    /// Annotators' certainty per attribute (CUB: 1 not visible … 4 definitely).
    public var attributeCertainty: [UInt8]?

    public init(image: RGBImage, label: Int, split: Split, attributes: [Float]? = nil,
                keypoints: [Keypoint]? = nil, box: Box? = nil, sourceFile: String? = nil, partMask: [UInt8]? = nil,
                attributeCertainty: [UInt8]? = nil) {
        self.image = image
        self.label = label
        self.split = split
        self.attributes = attributes
        self.keypoints = keypoints
        self.box = box
        self.sourceFile = sourceFile
        self.partMask = partMask
        self.attributeCertainty = attributeCertainty
    }
}

/// Writes images.h5 as docs/design.md § Artifact schemas fixes it. Every per-image array (`images`,
/// `labels`, `split`, `image_attributes`, `part_keypoints`, `boxes`) is a chunked dataset
/// appended batch by batch, so memory holds one batch, per-class sums and the list of
/// source file names (strings, written at the end); `finish` writes the class-level arrays.
public final class ImagesWriter {
    public let file: H5File
    public let header: DatasetHeader
    public private(set) var count = 0
    private var perClass: [Int]
    private var splitCounts = [Int64](repeating: 0, count: Split.allCases.count)
    /// Per-class sums of the image attributes (C × A), for the class means.
    private var attributeSums: [Double]
    private var sourceFiles: [String] = []

    /// Creates the appendable datasets in `file` (image chunks of about 1 MB of rows).
    public init(file: H5File, header: DatasetHeader) throws {
        self.file = file
        self.header = header
        perClass = [Int](repeating: 0, count: header.classNames.count)
        attributeSums = header.hasImageAttributes ? [Double](repeating: 0, count: header.classNames.count * header.attributeNames.count) : []
        let rowBytes = header.imageSize * header.imageSize * 3
        try file.createAppendable("images", of: UInt8.self, rowShape: [header.imageSize, header.imageSize, 3],
                                  chunkRows: max(1, min(1024, (1 << 20) / rowBytes)), compress: true)
        try file.createAppendable("labels", of: Int32.self, rowShape: [], chunkRows: 4096, compress: false)
        try file.createAppendable("split", of: UInt8.self, rowShape: [], chunkRows: 4096, compress: false)
        if header.hasImageAttributes {
            try file.createAppendable("image_attributes", of: Float.self, rowShape: [header.attributeNames.count],
                                      chunkRows: max(1, 16384 / header.attributeNames.count), compress: true)
        }
        if let parts = header.partNames {
            try file.createAppendable("part_keypoints", of: Float.self, rowShape: [parts.count, 3], chunkRows: 1024, compress: true)
        }
        if header.hasBoxes { try file.createAppendable("boxes", of: Float.self, rowShape: [4], chunkRows: 4096, compress: false) }
        if header.hasPartMasks {
            try file.createAppendable("part_masks", of: UInt8.self, rowShape: [header.imageSize, header.imageSize],
                                      chunkRows: max(1, min(1024, (1 << 20) / (header.imageSize * header.imageSize))), compress: true)
        }
        if header.hasAttributeCertainty {
            try file.createAppendable("image_attribute_certainty", of: UInt8.self, rowShape: [header.attributeNames.count],
                                      chunkRows: max(1, 16384 / header.attributeNames.count), compress: true)
        }
    }

    /// Appends a batch; traps on samples that contradict the header (programmer errors).
    public func append(_ samples: [DatasetSample]) throws {
        guard !samples.isEmpty else { return }
        let n = header.imageSize, a = header.attributeNames.count
        var pixels: [UInt8] = [], labels: [Int32] = [], splits: [UInt8] = []
        var attributes: [Float] = [], keypoints: [Float] = [], boxes: [Float] = []
        var masks: [UInt8] = [], certainty: [UInt8] = []
        pixels.reserveCapacity(samples.count * n * n * 3)
        for s in samples {
            precondition(s.image.width == n && s.image.height == n, "image is \(s.image.width)×\(s.image.height), expected \(n)×\(n)")
            precondition((0..<header.classNames.count).contains(s.label), "label \(s.label) out of range")
            pixels.append(contentsOf: s.image.pixels)
            labels.append(Int32(s.label))
            splits.append(s.split.rawValue)
            perClass[s.label] += 1
            splitCounts[Int(s.split.rawValue)] += 1
            if header.hasImageAttributes {
                let v = s.attributes!
                precondition(v.count == a)
                attributes.append(contentsOf: v)
                for j in 0..<a { attributeSums[s.label * a + j] += Double(v[j]) }
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
            if header.hasPartMasks {
                let m = s.partMask!
                precondition(m.count == n * n)
                masks.append(contentsOf: m)
            }
            if header.hasAttributeCertainty {
                let c = s.attributeCertainty!
                precondition(c.count == a)
                certainty.append(contentsOf: c)
            }
        }
        try file.append("images", pixels)
        try file.append("labels", labels)
        try file.append("split", splits)
        if header.hasImageAttributes { try file.append("image_attributes", attributes) }
        if header.partNames != nil { try file.append("part_keypoints", keypoints) }
        if header.hasBoxes { try file.append("boxes", boxes) }
        if header.hasPartMasks { try file.append("part_masks", masks) }
        if header.hasAttributeCertainty { try file.append("image_attribute_certainty", certainty) }
        count += samples.count
    }

    /// Writes the class-level arrays. `classAttributes` (C × A, in [0, 1]) is stored as
    /// given; when nil it is computed as the per-class mean of the image attributes, CUB's
    /// definition (the fraction of the class's images showing each attribute).
    /// Throws if a class has no image at all.
    public func finish(classAttributes given: [Float]?) throws {
        let c = header.classNames.count, a = header.attributeNames.count
        if let empty = perClass.firstIndex(of: 0) {
            throw DatasetError.invalid(path: file.path, reason: "class \(empty) (\(header.classNames[empty])) has no images")
        }
        let classAttributes: [Float]
        if let given {
            precondition(given.count == c * a)
            classAttributes = given
        } else {
            precondition(header.hasImageAttributes, "class attributes must be given or derivable")
            classAttributes = attributeSums.enumerated().map { Float($1 / Double(perClass[$0 / a])) }
        }
        try file.writeStrings("class_names", header.classNames)
        try file.writeStrings("attribute_names", header.attributeNames)
        try file.write("class_attributes", classAttributes, shape: [c, a])
        if let parts = header.partNames { try file.writeStrings("part_names", parts) }
        if let table = header.attributeParts {
            precondition(table.count == a)
            let width = max(1, table.map(\.count).max() ?? 1)
            try file.write("attribute_parts", table.flatMap { $0.map(Int32.init) + [Int32](repeating: -1, count: width - $0.count) },
                           shape: [a, width])
        }
        if header.hasSourceFiles { try file.writeStrings("source_files", sourceFiles) }
        try file.setAttribute("split_counts", .ints(splitCounts))  // train, val, test
        try file.setAttribute("image_size", .int(Int64(header.imageSize)))
    }
}
