import Foundation
import HDF5Store

/// A features file read whole (SJE training makes many passes over it), through
/// `FeaturesFile`: lengths agree, every feature is finite, and the labels (and the model's
/// classes, when logits are stored) are those of the dataset the features are used with.
public struct FeatureSet {
    public let path: String
    public var features: [Float]
    public let dimension: Int
    public let labels: [Int32]
    public let index: [Int64]

    public var count: Int { labels.count }

    /// Reads the features file at `path`, checking its classes against `classCount` classes
    /// of `classSource` before the features are read.
    public static func read(_ path: String, classCount: Int, classSource: String) throws -> FeatureSet {
        let file = try FeaturesFile(path)
        try file.checkClasses(classCount, of: classSource)
        return FeatureSet(path: path, features: try file.allFeatures(), dimension: file.dimension, labels: file.labels,
                          index: file.index)
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
        try NumberCheck.requireFinite(values.data, rowWidth: attributeNames.count, file: path, object: "/class_attributes")
        // docs/design.md § Artifact schemas: class attributes are in [0, 1] (whatever
        // normalisation the SJE applies later), and names tell classes and attributes apart.
        if let bad = values.data.firstIndex(where: { $0 < 0 || $0 > 1 }) {
            let a = attributeNames.count
            throw H5Error(file: path, object: "/class_attributes",
                          message: "row \(bad / a) (\(classNames[bad / a])), column \(bad % a) is \(values.data[bad]); "
                          + "class attributes must be in [0, 1]")
        }
        for (object, names) in [("/class_names", classNames), ("/attribute_names", attributeNames)] {
            var seen: [String: Int] = [:]
            for (index, name) in names.enumerated() {
                if let first = seen.updateValue(index, forKey: name) {
                    throw H5Error(file: path, object: object, message: "entries \(first) and \(index) are both '\(name)'; names must differ")
                }
            }
        }
        return ClassAttributeTable(path: path, values: values.data, classNames: classNames, attributeNames: attributeNames)
    }
}
