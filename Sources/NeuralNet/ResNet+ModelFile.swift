import Foundation
import HDF5Store
import Tensors

/// A model file that cannot be used (bad architecture attributes, wrong dtypes).
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

extension ResNet {
    /// Writes the model in the project's model-file schema: group `arch` (attributes
    /// name, family, block, blocks, width, num_classes, input_size, mean, std) and group
    /// `params` with one dataset per state-dict key in PyTorch layout.
    public func save(to file: H5File) throws {
        try file.createGroup("arch")
        let attributes: [(String, H5AttributeValue)] = [
            ("name", .string(config.name)), ("family", .string(config.family.rawValue)),
            ("block", .string(config.block.rawValue)), ("blocks", .ints(config.blocks.map(Int64.init))),
            ("width", .int(Int64(config.width))), ("num_classes", .int(Int64(config.numClasses))),
            ("input_size", .int(Int64(config.inputSize))),
            ("mean", .doubles(config.mean.map(Double.init))), ("std", .doubles(config.std.map(Double.init))),
        ]
        for (name, value) in attributes { try file.setAttribute(name, value, on: "arch") }
        try file.createGroup("params")
        for (key, t) in stateDict() { try file.write("params/\(key)", t.data, shape: t.shape) }
        for (key, n) in batchesTracked { try file.writeScalar("params/\(key)", n) }
    }

    /// Writes a new model file at `path` (replacing any file there).
    public func save(to path: String) throws {
        let file = try H5File.create(path)
        defer { file.close() }
        try save(to: file)
    }

    /// Reads a model written by `save` (or by another tool following the schema: `arch`
    /// needs at least `name` and `num_classes`; widths come from the parameters then).
    public static func load(from file: H5File) throws -> ResNet {
        func fail(_ message: String) -> ModelFileError { ModelFileError(path: file.path, message: message) }
        guard file.exists("arch"), file.exists("params") else {
            throw fail("not a model file: groups 'arch' and 'params' are required")
        }
        func attribute(_ name: String) throws -> H5AttributeValue? {
            file.hasAttribute(name, of: "arch") ? try file.attribute(name, of: "arch") : nil
        }
        guard let name = try attribute("name")?.stringValue else { throw fail("arch has no 'name' attribute") }
        guard let classes = try attribute("num_classes")?.intValue else { throw fail("arch has no integer 'num_classes' attribute") }
        let mean = try attribute("mean")?.doublesValue?.map(Float.init) ?? ResNetConfig.imagenetMean
        let std = try attribute("std")?.doublesValue?.map(Float.init) ?? ResNetConfig.imagenetStd
        let inputSize = try attribute("input_size")?.intValue.map(Int.init)

        var tensors: [String: Tensor] = [:], counters: [String: Int64] = [:]
        for key in try file.childNames("params") {
            let path = "params/\(key)"
            switch try file.dtype(path) {
            case .float32:
                let a = try file.read(path, as: Float.self)
                if let bad = a.data.firstIndex(where: { !$0.isFinite }) {
                    throw fail("parameter '\(key)' element \(bad) (of shape \(a.shape)) is \(a.data[bad]); parameters must be finite")
                }
                tensors[key] = Tensor(shape: a.shape, data: a.data)
            case .int64 where key.hasSuffix("num_batches_tracked"):
                counters[key] = try file.readScalar(path, as: Int64.self)
            case let other:
                throw fail("parameter '\(key)' is \(other); parameters must be float32")
            }
        }
        let config: ResNetConfig
        do {
            // Int(exactly:): a block count from the file may be NaN, fractional or huge.
            if let family = try attribute("family")?.stringValue.flatMap(ResNetConfig.Family.init(rawValue:)),
               let block = try attribute("block")?.stringValue.flatMap(ResNetConfig.Block.init(rawValue:)),
               let values = try attribute("blocks")?.doublesValue, let width = try attribute("width")?.intValue {
                let blocks = try values.map { value -> Int in
                    guard let count = Int(exactly: value) else { throw fail("arch: 'blocks' holds \(value), not a block count") }
                    return count
                }
                config = try ResNetConfig(family: family, block: block, blocks: blocks, width: Int(width), numClasses: Int(classes),
                                          inputSize: inputSize ?? (family == .cifar ? 32 : 224), mean: mean, std: std)
            } else {
                config = try ResNetConfig.named(name, numClasses: Int(classes), width: tensors["conv1.weight"]?.shape.first,
                                                inputSize: inputSize, mean: mean, std: std)
            }
        } catch let error as TensorError {
            throw fail("arch: \(error)")
        }
        do {
            return try ResNet(config: config, stateDict: tensors, numBatchesTracked: counters)
        } catch let mismatch as StateDictMismatch {
            throw fail(mismatch.description)
        }
    }

    /// Reads the model file at `path`.
    public static func load(from path: String) throws -> ResNet {
        let file = try H5File.open(path, mode: .readOnly)
        defer { file.close() }
        return try load(from: file)
    }
}
