import HDF5Store
import PipelineKit

/// The attribute-prototype head file (`<DATA>/<ds>/apn/<model>.h5`, written by `fit-apn`):
/// `prototypes` float32 [A, C], `bias` [A], `channel_mean` and `channel_inverse_std` [C],
/// `attribute_names` strings, `context_layers` int32 [m] (further stages appended as channels,
/// `APNFeatures`; 1-based); root attributes `layer` (the stage read, 1-based as ground's
/// `--layer`), `model` (the classifier's path) and `model_sha256`, `image_size`, `objective`
/// (`apn`, or `segmentation` for a Net2Vec concept probe, whose `pixel_weights` float32 [A, 2]
/// are each attribute's w⁺ and w⁻ and `balance` names how they were set; a file without
/// `objective` is an APN head), the loss weights, and the head's own accuracy on clean validation and test images
/// (`val_…`/`test_…`: `attribute_accuracy`, `pointing`, `box_centre`, `items`), besides the
/// provenance every artifact carries.
///
/// A head trained end to end with its classifier (`train --apn-aux`) travels inside the model
/// file, the same objects under the group `apn/` (`embedded`): it belongs to that file's
/// weights and to no other model's.
public struct APNFile {
    public let path: String
    public let head: APNHead
    public let attributeNames: [String]
    public let model: String
    public let modelSHA256: String
    public let imageSize: Int
    /// The root attributes named `val_…` and `test_…`.
    public let accuracy: [String: Double]
    /// Whether the head is the `apn/` group of a model file (trained with it).
    public let embedded: Bool

    /// Where a model file keeps the head it was trained with.
    public static let embeddedGroup = "apn"

    public static let accuracyNames = ["attribute_accuracy", "pointing", "box_centre", "items"]

    /// Writes `head` and what it was made for into `file` (an artifact being written).
    public static func write(_ head: APNHead, attributeNames: [String], model: String, modelSHA256: String, imageSize: Int,
                             loss: APNLoss, probe: (loss: ConceptProbeLoss, balance: String)? = nil,
                             accuracy: [(split: String, APNAccuracy)], into file: H5File, group: String? = nil) throws {
        let prefix = group.map { "\($0)/" } ?? "", object = group ?? "/"
        try file.write(prefix + "prototypes", head.prototypes, shape: [head.attributeCount, head.channels])
        try file.write(prefix + "bias", head.bias, shape: [head.attributeCount])
        try file.write(prefix + "channel_mean", head.mean, shape: [head.channels])
        try file.write(prefix + "channel_inverse_std", head.inverseStd, shape: [head.channels])
        try file.writeStrings(prefix + "attribute_names", attributeNames)
        try file.write(prefix + "context_layers", head.context.map { Int32($0 + 1) }, shape: [head.context.count])
        try file.setAttribute("layer", .int(Int64(head.stage + 1)), on: object)
        try file.setAttribute("model", .string(model), on: object)
        try file.setAttribute("model_sha256", .string(modelSHA256), on: object)
        try file.setAttribute("image_size", .int(Int64(imageSize)), on: object)
        try file.setAttribute("objective", .string(head.objective.rawValue), on: object)
        if let probe {
            try file.write(prefix + "pixel_weights", zip(probe.loss.positiveWeights, probe.loss.negativeWeights).flatMap { [$0, $1] },
                           shape: [head.attributeCount, 2])
            try file.setAttribute("balance", .string(probe.balance), on: object)
        } else {
            try file.setAttribute("decorrelation", .double(Double(loss.decorrelation)), on: object)
            try file.setAttribute("compactness", .double(Double(loss.compactness)), on: object)
        }
        for (split, a) in accuracy {
            let values = [a.attributeAccuracy, a.pointing, a.boxCentre, Double(a.items)]
            for (name, v) in zip(accuracyNames, values) { try file.setAttribute("\(split)_\(name)", .double(v), on: object) }
        }
    }

    /// Reads a head file, or the head a model file was trained with (its `apn/` group), checking
    /// every shape against its own attribute list.
    public static func read(_ path: String) throws -> APNFile {
        let file = try H5File.open(path)
        defer { file.close() }
        let embedded = !file.isDataset("prototypes") && file.isGroup(embeddedGroup)
        if !embedded && file.isGroup("params") && !file.isDataset("prototypes") {
            throw H5Error(file: path, object: "/\(embeddedGroup)", message: "a model file without an attribute-prototype head: "
                          + "train it with --apn-aux, or fit a head on it (fit-apn)")
        }
        let prefix = embedded ? "\(embeddedGroup)/" : "", object = embedded ? embeddedGroup : "/"
        let names = try file.readStrings(prefix + "attribute_names")
        let prototypes = try file.read(prefix + "prototypes", as: Float.self, expectingShape: [names.count, nil])
        let c = prototypes.shape[1]
        guard c > 0 else { throw H5Error(file: path, object: "/\(prefix)prototypes", message: "expected at least one channel") }
        let bias = try file.read(prefix + "bias", as: Float.self, expectingShape: [names.count])
        let mean = try file.read(prefix + "channel_mean", as: Float.self, expectingShape: [c])
        let inverseStd = try file.read(prefix + "channel_inverse_std", as: Float.self, expectingShape: [c])
        for (name, values) in [("prototypes", prototypes.data), ("bias", bias.data), ("channel_mean", mean.data),
                               ("channel_inverse_std", inverseStd.data)] where values.contains(where: { !$0.isFinite }) {
            throw H5Error(file: path, object: "/\(prefix)\(name)", message: "non-finite values")
        }
        guard let layer = try file.attribute("layer", of: object).intValue, layer >= 1 else {
            throw H5Error(file: path, object: "\(prefix)layer", message: "expected the stage read, 1-based")
        }
        guard let imageSize = try file.attribute("image_size", of: object).intValue, imageSize > 0 else {
            throw H5Error(file: path, object: "\(prefix)image_size", message: "expected a positive image size")
        }
        let context = try file.read(prefix + "context_layers", as: Int32.self, expectingShape: [nil]).data
        guard context.allSatisfy({ $0 >= 1 && Int64($0) != layer }) else {
            throw H5Error(file: path, object: "/\(prefix)context_layers", message: "expected stages (1-based) other than layer \(layer)")
        }
        let objectiveName = file.hasAttribute("objective", of: object) ? try file.attribute("objective", of: object).stringValue ?? "" : "apn"
        guard let objective = APNHead.Objective(rawValue: objectiveName) else {
            throw H5Error(file: path, object: "\(prefix)objective", message: "expected "
                          + APNHead.Objective.allCases.map(\.rawValue).joined(separator: " or ") + ", found \(objectiveName)")
        }
        let head = APNHead(stage: Int(layer) - 1, context: context.map { Int($0) - 1 }, channels: c, attributeCount: names.count, prototypes: prototypes.data, bias: bias.data,
                           mean: mean.data, inverseStd: inverseStd.data, objective: objective)
        var accuracy: [String: Double] = [:]
        for split in ["val", "test"] {
            for name in accuracyNames { accuracy["\(split)_\(name)"] = (try? file.attribute("\(split)_\(name)", of: object).doubleValue ?? .nan) ?? .nan }
        }
        return APNFile(path: path, head: head, attributeNames: names, model: try file.attribute("model", of: object).stringValue ?? "",
                       modelSHA256: try file.attribute("model_sha256", of: object).stringValue ?? "", imageSize: Int(imageSize), accuracy: accuracy,
                       embedded: embedded)
    }

    /// Refuses a head made for another classifier (its SHA-256; a head inside a model file
    /// belongs to that file, `fileSHA256`), another stage (`layer`, when the caller names one)
    /// or other attributes, or whose channels are not the model's at its stage. Both files are named.
    public func requireFits(model modelPath: String, modelSHA256: String, fileSHA256: String, stageChannels: Int, layer: Int?,
                            images: String, attributeNames: [String], imageSize: Int) throws {
        func refuse(_ what: String) -> StageError {
            let kind = head.objective == .segmentation ? "a concept probe" : "an attribute-prototype head"
            return StageError("\(path): \(kind) for another \(what). Fit one for \(modelPath) (fit-apn).")
        }
        if embedded {
            if fileSHA256 != modelSHA256 {
                throw refuse("model than \(modelPath): it is the head \(path) was trained with (train --apn-aux), "
                             + "and \(modelPath) is another file (SHA-256 \(modelSHA256.prefix(12))… against \(fileSHA256.prefix(12))…)")
            }
        } else if modelSHA256 != self.modelSHA256 {
            throw refuse("model than \(modelPath): it was fitted on \(model) (SHA-256 \(self.modelSHA256.prefix(12))…), "
                         + "\(modelPath) has SHA-256 \(modelSHA256.prefix(12))…")
        }
        if let layer, layer != head.stage + 1 {
            throw refuse("stage than --layer \(layer) of \(modelPath): it reads stage \(head.stage + 1)")
        }
        if stageChannels != head.channels {
            throw refuse("stage: it reads \(head.channels) channels, \(modelPath)'s stage \(head.stage + 1)"
                         + (head.context.isEmpty ? "" : " with stages \(head.context.map { String($0 + 1) }.joined(separator: ", "))")
                         + " gives \(stageChannels)")
        }
        if attributeNames != self.attributeNames {
            throw refuse("attribute set than \(images): its \(self.attributeNames.count) attribute names differ from the images' \(attributeNames.count)")
        }
        if imageSize != self.imageSize { throw refuse("image size: it was fitted on \(self.imageSize) px images, \(images) stores \(imageSize) px") }
    }
}
