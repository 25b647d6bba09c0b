import Foundation
import HDF5Store

/// A features file (DESIGN.md): `features` [N, D], `labels` int32 [N], `index` int64 [N]
/// (rows of the source images.h5), optional `predictions` and `logits`.
public struct FeatureSet {
    public let path: String
    public var features: [Float]
    public let dimension: Int
    public let labels: [Int32]
    public let index: [Int64]

    public var count: Int { labels.count }

    /// Reads a features file whole (SJE training makes many passes over it), checking
    /// that its datasets agree in length.
    public static func read(_ path: String) throws -> FeatureSet {
        let file = try H5File.open(path)
        defer { file.close() }
        let features = try file.read("features", as: Float.self, expectingShape: [nil, nil])
        let n = features.shape[0]
        let labels = try file.read("labels", as: Int32.self, expectingShape: [n]).data
        let index = file.exists("index") ? try file.read("index", as: Int64.self, expectingShape: [n]).data : (0..<Int64(n)).map { $0 }
        return FeatureSet(path: path, features: features.data, dimension: features.shape[1], labels: labels, index: index)
    }

    /// Throws unless every label is a valid class index.
    public func checkLabels(classCount: Int, classSource: String) throws {
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            throw H5Error(file: path, object: "/labels",
                          message: "row \(bad) has label \(labels[bad]), but \(classSource) has \(classCount) classes")
        }
    }
}

/// The class-attribute side of a dataset, read from its images.h5: `class_attributes`
/// [C, A], `class_names` [C], `attribute_names` [A].
public struct ClassAttributeTable {
    public let path: String
    public let values: [Float]
    public let classNames: [String]
    public let attributeNames: [String]
    public var classCount: Int { classNames.count }
    public var attributeCount: Int { attributeNames.count }

    public static func read(_ path: String) throws -> ClassAttributeTable {
        let file = try H5File.open(path)
        defer { file.close() }
        let classNames = try file.readStrings("class_names")
        let attributeNames = try file.readStrings("attribute_names")
        let values = try file.read("class_attributes", as: Float.self, expectingShape: [classNames.count, attributeNames.count])
        return ClassAttributeTable(path: path, values: values.data, classNames: classNames, attributeNames: attributeNames)
    }
}
