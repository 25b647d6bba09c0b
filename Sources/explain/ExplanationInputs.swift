import AttributeSpace
import Foundation
import HDF5Store
import PipelineKit

/// What every explain subcommand reads about the dataset: its class attributes (raw φ in
/// [0, 1], names), the split of each image, and (rendered sets) each image's true attributes.
struct DatasetFacts {
    let table: ClassAttributeTable
    let splits: [UInt8]
    /// `image_attributes` [N, A] when the set has them.
    let imageAttributes: [Float]?

    static func read(_ images: String) throws -> DatasetFacts {
        let table = try ClassAttributeTable.read(images)
        let file = try H5File.open(images)
        defer { file.close() }
        let splits = try file.read("split", as: UInt8.self, expectingShape: [nil]).data
        var truth: [Float]?
        if file.exists("image_attributes") {
            let values = try file.read("image_attributes", as: Float.self, expectingShape: [splits.count, table.attributeCount]).data
            try NumberCheck.requireFinite(values, rowWidth: table.attributeCount, file: images, object: "/image_attributes")
            truth = values
        }
        return DatasetFacts(table: table, splits: splits, imageAttributes: truth)
    }

    /// The training images' rows, or an error naming the file when there are none.
    func trainingRows(of images: String) throws -> Set<Int> {
        let rows = Set(splits.indices.filter { splits[$0] == 0 })
        guard !rows.isEmpty else {
            throw StageError("\(images): no training split (no image has split 0): counter-examples are training images, "
                             + "so explain needs a set with one")
        }
        return rows
    }
}

/// The SJE's class embedding φ [C, A] as the attribute-based classifier uses it.
func readClassEmbedding(_ sje: String, facts: DatasetFacts) throws -> [Float] {
    let file = try H5File.open(sje)
    defer { file.close() }
    let model = try SJE.read(from: file)
    guard model.classCount == facts.table.classCount, model.attributeCount == facts.table.attributeCount else {
        throw StageError("\(sje): an SJE of \(model.classCount) classes × \(model.attributeCount) attributes, but \(facts.table.path) "
                         + "has \(facts.table.classCount) × \(facts.table.attributeCount)")
    }
    return model.classEmbeddings
}

/// The per-row vectors of an adversarial file explain uses.
struct AdversarialRowsRead {
    let path: String
    let index: [Int64]
    let labels: [Int32]
    let cleanPredictions: [Int32]
    let advPredictions: [Int32]
    /// `targets` of a targeted attack (−1: skipped), nil for an untargeted file.
    let targets: [Int32]?
    let eps: Double
    let targetMode: String?

    static func read(_ path: String, classes: Int) throws -> AdversarialRowsRead {
        let file = try H5File.open(path)
        defer { file.close() }
        let index = try file.read("index", as: Int64.self, expectingShape: [nil]).data
        let n = index.count
        let labels = try file.read("labels", as: Int32.self, expectingShape: [n]).data
        let clean = try file.read("clean_predictions", as: Int32.self, expectingShape: [n]).data
        let adv = try file.read("adv_predictions", as: Int32.self, expectingShape: [n]).data
        for (name, values) in [("labels", labels), ("clean_predictions", clean), ("adv_predictions", adv)] {
            if let bad = values.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
                throw H5Error(file: path, object: "/\(name)", message: "row \(bad) is \(values[bad]), outside 0..<\(classes)")
            }
        }
        var targets: [Int32]?
        if file.exists("targets") {
            let values = try file.read("targets", as: Int32.self, expectingShape: [n]).data
            if let bad = values.indices.first(where: { values[$0] < -1 || Int(values[$0]) >= classes || values[$0] == labels[$0] }) {
                throw H5Error(file: path, object: "/targets", message: "row \(bad) is \(values[bad]): expected −1 or another class in 0..<\(classes)")
            }
            targets = values
        }
        guard let eps = try file.attribute("eps").doubleValue else {
            throw H5Error(file: path, object: "/ @eps", message: "expected a number")
        }
        let mode = file.hasAttribute("target") ? try file.attribute("target").stringValue : nil
        return AdversarialRowsRead(path: path, index: index, labels: labels, cleanPredictions: clean, advPredictions: adv,
                                   targets: targets, eps: eps, targetMode: mode)
    }
}

extension Predictions {
    /// Row of each images.h5 row in this file.
    var rowOfImage: [Int64: Int] { Dictionary(index.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first }) }
}
