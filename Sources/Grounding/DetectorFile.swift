import HDF5Store
import NeuralNet
import PipelineKit
import Tensors

/// The detector file (`<DATA>/<ds>/models/detector.h5`, written by `train-detector`): group
/// `params` (`conv<i>.weight`, `conv<i>.bias`, `head.weight`, `head.bias`, PyTorch layouts),
/// `part_names` and `attribute_names` strings, `attribute_parts` int32 [A, m] (−1 padded);
/// root attributes `image_size`, `widths` (JSON list), `mean`, `std`, and the clean test
/// accuracy (`test_part_localisation`, `test_value_accuracy`, `test_recall`,
/// `test_precision`, with their counts), besides the provenance every artifact carries.
public struct DetectorFile {
    public let path: String
    public let detector: AttributeDetector
    public let imageSize: Int
    public let partNames: [String]
    public let attributeNames: [String]
    public let attributeParts: AttributeParts
    /// The root attributes named `test_…` (the detector's own accuracy on clean test images).
    public let accuracy: [String: Double]

    public static let accuracyNames = ["test_part_localisation", "test_value_accuracy", "test_recall", "test_precision",
                                       "test_parts_shown", "test_groups", "test_present", "test_found"]

    /// Writes `detector` and its vocabulary into `file` (an artifact being written).
    public static func write(_ detector: AttributeDetector, widths: [Int], imageSize: Int, partNames: [String], attributeNames: [String],
                             attributeParts: AttributeParts, accuracy: DetectorAccuracy, into file: H5File) throws {
        for (name, t) in detector.parameters { try file.write("params/\(name)", t.data, shape: t.shape) }
        try file.writeStrings("part_names", partNames)
        try file.writeStrings("attribute_names", attributeNames)
        try file.write("attribute_parts", attributeParts.padded, shape: [attributeParts.count, attributeParts.width])
        try file.setAttribute("image_size", .int(Int64(imageSize)))
        try file.setAttribute("widths", .string("[" + widths.map(String.init).joined(separator: ",") + "]"))
        try file.setAttribute("mean", .double(Double(detector.mean)))
        try file.setAttribute("std", .double(Double(detector.std)))
        let values: [Double] = [accuracy.partLocalisation, accuracy.valueAccuracy, accuracy.recall, accuracy.precision,
                                Double(accuracy.partsShown), Double(accuracy.groups), Double(accuracy.present), Double(accuracy.found)]
        for (name, v) in zip(accuracyNames, values) { try file.setAttribute(name, .double(v)) }
    }

    /// Reads a detector file, checking every shape against its own vocabulary.
    public static func read(_ path: String) throws -> DetectorFile {
        let file = try H5File.open(path)
        defer { file.close() }
        let partNames = try file.readStrings("part_names")
        let attributeNames = try file.readStrings("attribute_names")
        let table = try file.read("attribute_parts", as: Int32.self, expectingShape: [attributeNames.count, nil])
        if let bad = table.data.first(where: { $0 < -1 || Int($0) >= partNames.count }) {
            throw H5Error(file: path, object: "/attribute_parts", message: "part id \(bad) outside -1..<\(partNames.count)")
        }
        let parts = AttributeParts(padded: table.data, width: table.shape[1])
        guard let imageSize = try file.attribute("image_size").intValue, imageSize > 0 else {
            throw H5Error(file: path, object: "image_size", message: "expected a positive image size")
        }
        guard let widthsText = try file.attribute("widths").stringValue,
              let widths = Optional(widthsText.dropFirst().dropLast().split(separator: ",").compactMap { Int($0) }),
              !widths.isEmpty, widths.allSatisfy({ (1...1024).contains($0) }) else {
            throw H5Error(file: path, object: "widths", message: "expected a JSON list of layer widths")
        }
        var convs: [Conv2dParameters] = []
        var inC = 3
        for (i, w) in widths.enumerated() {
            convs.append(Conv2dParameters(weight: try file.read("params/conv\(i).weight", as: Float.self, expectingShape: [w, inC, 3, 3]),
                                          bias: try file.read("params/conv\(i).bias", as: Float.self, expectingShape: [w])))
            inC = w
        }
        let out = partNames.count + 1 + attributeNames.count
        let headWeight = try file.read("params/head.weight", as: Float.self, expectingShape: [out, inC, 1, 1])
        let headBias = try file.read("params/head.bias", as: Float.self, expectingShape: [out])
        for (name, t) in [("head.weight", headWeight.data), ("head.bias", headBias.data)] + convs.enumerated().flatMap({
            [("conv\($0.offset).weight", $0.element.weight.data), ("conv\($0.offset).bias", $0.element.bias.data)] }) {
            if t.contains(where: { !$0.isFinite }) { throw H5Error(file: path, object: "/params/\(name)", message: "non-finite weights") }
        }
        let detector = AttributeDetector(
            convs: convs.map { Conv2d(weight: Tensor(shape: $0.weight.shape, data: $0.weight.data),
                                      bias: Tensor(shape: [$0.bias.data.count], data: $0.bias.data), stride: 1, padding: 1) },
            head: Conv2d(weight: Tensor(shape: headWeight.shape, data: headWeight.data), bias: Tensor(shape: [out], data: headBias.data)),
            partCount: partNames.count, attributeCount: attributeNames.count,
            mean: Float(try file.attribute("mean").doubleValue ?? 0.5), std: Float(try file.attribute("std").doubleValue ?? 0.25))
        var accuracy: [String: Double] = [:]
        for name in accuracyNames { accuracy[name] = (try? file.attribute(name).doubleValue ?? .nan) ?? .nan }
        return DetectorFile(path: path, detector: detector, imageSize: Int(imageSize), partNames: partNames, attributeNames: attributeNames,
                            attributeParts: parts, accuracy: accuracy)
    }

    /// Refuses a detector made for other images: another image size, other parts, attributes
    /// or attribute → part table. Both files are named.
    public func requireFits(images: String, imageSize: Int, partNames: [String], attributeNames: [String],
                            attributeParts: AttributeParts) throws {
        func refuse(_ what: String) -> StageError {
            StageError("\(path): a detector for other images than \(images): \(what). Train one on \(images) (train-detector).")
        }
        if imageSize != self.imageSize { throw refuse("it takes \(self.imageSize) px images, these are \(imageSize) px") }
        if partNames != self.partNames { throw refuse("its parts are \(self.partNames.joined(separator: ", ")), the images' \(partNames.joined(separator: ", "))") }
        if attributeNames != self.attributeNames {
            throw refuse("its \(self.attributeNames.count) attribute names differ from the images' \(attributeNames.count)")
        }
        if attributeParts != self.attributeParts { throw refuse("its attribute → part table differs from the one ground uses") }
    }
}

/// One convolution's stored parameters as read.
private struct Conv2dParameters {
    var weight: H5Array<Float>
    var bias: H5Array<Float>
}
