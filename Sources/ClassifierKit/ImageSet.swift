import ArgumentParser
import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// The dataset splits of images.h5 (`split` uint8: 0 train, 1 val, 2 test).
public enum DataSplit: String, CaseIterable, Sendable, ExpressibleByArgument {
    case train, val, test

    /// The value stored in images.h5's `split` dataset.
    public var code: UInt8 {
        switch self {
        case .train: 0
        case .val: 1
        case .test: 2
        }
    }

    /// The split stored as `code`, or nil for a code that is none of 0, 1, 2.
    public init?(code: UInt8) {
        guard let split = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = split
    }
}

/// An images.h5 opened for reading (docs/design.md § Artifact schemas): labels, splits and names are read
/// at once (small); images are read batch by batch through row ranges, never whole.
public final class ImageSet {
    public let path: String
    let file: H5File
    /// Labels of every image, 0-based.
    public let labels: [Int32]
    /// Split code of every image.
    public let splits: [UInt8]
    public let classNames: [String]
    /// Side of the stored square images.
    public let imageSize: Int

    public var count: Int { labels.count }
    public var classCount: Int { classNames.count }

    public init(_ path: String) throws {
        self.path = path
        file = try H5File.open(path)
        let shape = try file.shape("images")
        guard shape.count == 4, shape[3] == 3, shape[1] == shape[2] else {
            throw H5Error(file: path, object: "/images", message: "expected uint8 [N, H, W, 3] with H = W, found shape \(shape)")
        }
        guard try file.dtype("images") == .uint8 else {
            throw H5Error(file: path, object: "/images", message: "expected uint8 pixels, found \(try file.dtype("images"))")
        }
        imageSize = shape[1]
        labels = try file.read("labels", as: Int32.self, expectingShape: [shape[0]]).data
        splits = try file.read("split", as: UInt8.self, expectingShape: [shape[0]]).data
        classNames = try file.readStrings("class_names")
        if let bad = splits.firstIndex(where: { DataSplit(code: $0) == nil }) {
            throw H5Error(file: path, object: "/split", message: "row \(bad) has split code \(splits[bad]); expected 0 (train), 1 (val) or 2 (test)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classNames.count }) {
            throw H5Error(file: path, object: "/labels", message: "row \(bad) has label \(labels[bad]) outside 0..<\(classNames.count)")
        }
    }

    deinit { file.close() }

    /// Row indices of the images in `split`, in file order.
    public func indices(of split: DataSplit) -> [Int] {
        splits.indices.filter { splits[$0] == split.code }
    }

    /// Images at `indices` as a tensor (N, 3, H, W) in [0, 1].
    public func batch(_ indices: [Int]) throws -> Tensor {
        ImageLayout.tensor(fromNHWC: try loadRaw(indices), count: indices.count, size: imageSize)
    }

    /// Raw uint8 NHWC rows at `indices`, in that order. Each run of consecutive indices is
    /// one row-range read, so a split read in file order costs one read per run; a whole
    /// split is read in pieces of at most 1024 rows. Training keeps its split in memory this
    /// way (1 byte per pixel) because it visits the images in a new order every epoch.
    public func loadRaw(_ indices: [Int]) throws -> [UInt8] {
        var raw = [UInt8]()
        raw.reserveCapacity(indices.count * imageSize * imageSize * 3)
        var position = 0
        while position < indices.count {
            var end = position + 1
            while end < indices.count && end - position < 1024 && indices[end] == indices[end - 1] + 1 { end += 1 }
            raw += try file.readRows("images", indices[position]..<(indices[end - 1] + 1), as: UInt8.self).data
            position = end
        }
        return raw
    }

    /// Per-image attribute values `image_attributes` of `rows` [rows.count, A] (nil when the
    /// set has none), refused if any is NaN or ±Inf (the error names the first bad row).
    public func imageAttributes(_ rows: Range<Int>) throws -> [Float]? {
        guard file.exists("image_attributes") else { return nil }
        let values = try file.readRows("image_attributes", rows, as: Float.self)
        try NumberCheck.requireFinite(values.data, rowWidth: values.shape.count > 1 ? values.shape[1] : 1, firstRow: rows.lowerBound,
                                      file: path, object: "/image_attributes")
        return values.data
    }

    /// Throws unless `model` takes this set's images and predicts its classes.
    public func checkCompatible(with model: ResNet, modelPath: String) throws {
        guard model.config.numClasses == classCount else {
            throw StageError("\(modelPath): the model predicts \(model.config.numClasses) classes, but \(path) has \(classCount)")
        }
        guard model.config.inputSize == imageSize else {
            throw StageError("\(modelPath): the model takes \(model.config.inputSize)×\(model.config.inputSize) images, "
                                  + "but \(path) stores \(imageSize)×\(imageSize)")
        }
    }
}

/// Conversions between the files' NHWC layout and the engine's NCHW tensors.
public enum ImageLayout {
    /// uint8 NHWC pixels → Float NCHW in [0, 1].
    public static func tensor(fromNHWC raw: [UInt8], count: Int, size: Int) -> Tensor {
        let plane = size * size
        return Tensor(shape: [count, 3, size, size]) { out in
            raw.withUnsafeBufferPointer { src in
                for n in 0..<count {
                    let image = src.baseAddress! + n * plane * 3
                    let target = out + n * plane * 3
                    for p in 0..<plane {
                        for c in 0..<3 { target[c * plane + p] = Float(image[p * 3 + c]) * (1 / 255) }
                    }
                }
            }
        }
    }

    /// Float NHWC → Float NCHW.
    public static func tensor(fromNHWC values: [Float], count: Int, size: Int) -> Tensor {
        let plane = size * size
        return Tensor(shape: [count, 3, size, size]) { out in
            for n in 0..<count {
                for p in 0..<plane {
                    for c in 0..<3 { out[n * plane * 3 + c * plane + p] = values[n * plane * 3 + p * 3 + c] }
                }
            }
        }
    }

    /// Float NCHW tensor → Float NHWC rows (the adversarial file's layout).
    public static func nhwc(_ x: Tensor) -> [Float] {
        let (count, size) = (x.shape[0], x.shape[2])
        let plane = size * size
        var out = [Float](repeating: 0, count: x.count)
        for n in 0..<count {
            for p in 0..<plane {
                for c in 0..<3 { out[n * plane * 3 + p * 3 + c] = x.data[n * plane * 3 + c * plane + p] }
            }
        }
        return out
    }
}
