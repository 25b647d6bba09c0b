import AttributeSpace
import Foundation
import Grounding
import HDF5Store
import NeuralNet
import PipelineKit

/// Throws unless the adversarial file at `path` was made from `images`: its attack's
/// provenance records the SHA-256 of its `source_images`, which must be `images`' (checked
/// before its rows are read against them, so the message says what is wrong). Returns the
/// model the attack was made against (its `model` attribute; "" when absent).
func checkAdversarialSource(_ path: String, images: String) throws -> String {
    let file = try H5File.open(path)
    defer { file.close() }
    if let source = try? file.attribute("source_images").stringValue,
       let recorded = try Provenance.read(from: file).inputs.first(where: { $0.path == source }) {
        let imagesHash = try FileDigests.shared.sha256(images)
        guard recorded.sha256 == imagesHash else {
            throw StageError("\(path): made from \(source) (SHA-256 \(recorded.sha256.prefix(12))…), but --images \(images) "
                             + "has SHA-256 \(imagesHash.prefix(12))…: an adversarial file of another images.h5, or the images changed since the attack")
        }
    } else {
        Log.warning("\(path): no provenance of its source images; checking rows and labels only")
    }
    return file.hasAttribute("model") ? try file.attribute("model").stringValue ?? "" : ""
}

/// Throws unless the SJE was fitted on features of this model: the SJE's training
/// features file (its first provenance input) records the model's SHA-256. Skipped with a
/// warning when that features file is gone.
func checkSJEFitsModel(sjePath: String, sjeFile: H5File, modelPath: String, modelHash: String) throws {
    guard let featuresPath = try? Provenance.read(from: sjeFile).inputs.first?.path else {
        Log.warning("\(sjePath): no provenance; cannot check it was fitted on \(modelPath)'s features")
        return
    }
    guard FileManager.default.fileExists(atPath: featuresPath) else {
        Log.warning("\(sjePath): its training features \(featuresPath) are gone; cannot check they came from \(modelPath)")
        return
    }
    let features = try H5File.open(featuresPath)
    defer { features.close() }
    guard let recordedModel = try? features.attribute("model").stringValue,
          let recorded = try Provenance.read(from: features).inputs.first(where: { $0.path == recordedModel }) else { return }
    guard recorded.sha256 == modelHash else {
        throw StageError("\(sjePath): fitted on features of \(recordedModel) (SHA-256 \(recorded.sha256.prefix(12))…), "
                         + "but --model \(modelPath) has SHA-256 \(modelHash.prefix(12))…: the SJE belongs to another model")
    }
}

/// Throws unless the model, the SJE (read from `sjeFile`) and the images agree: feature
/// dimension, classes (count and names), attributes (count and names) and image size.
func checkAgree(model modelPath: String, _ network: ResNet, sje sjePath: String, _ embedding: SJE, sjeFile: H5File,
                images imagesPath: String, _ truth: DatasetTruth) throws {
    let sjeClasses = try sjeFile.readStrings("class_names"), sjeAttributes = try sjeFile.readStrings("attribute_names")
    guard embedding.featureDimension == network.config.featureDimension else {
        throw StageError("\(sjePath): /W has \(embedding.featureDimension) feature rows, but \(modelPath) gives \(network.config.featureDimension)-d features")
    }
    guard embedding.classCount == network.config.numClasses, network.config.numClasses == truth.classNames.count else {
        throw StageError("\(sjePath): \(embedding.classCount) classes, \(modelPath): \(network.config.numClasses), \(imagesPath): \(truth.classNames.count); they must agree")
    }
    guard sjeClasses == truth.classNames else { throw StageError("\(sjePath): /class_names differ from \(imagesPath)'s /class_names") }
    guard sjeAttributes == truth.attributeNames, embedding.attributeCount == truth.attributeNames.count else {
        throw StageError("\(sjePath): /attribute_names differ from \(imagesPath)'s /attribute_names")
    }
    guard network.config.inputSize == truth.imageSize else {
        throw StageError("\(modelPath): takes \(network.config.inputSize)×\(network.config.inputSize) images, but \(imagesPath) stores \(truth.imageSize)×\(truth.imageSize)")
    }
}
