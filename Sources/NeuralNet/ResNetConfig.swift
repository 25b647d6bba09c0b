import Tensors

/// Which ResNet: family (CIFAR-style or torchvision), block kind, blocks per stage, base
/// width, classes, the input size it was made for, and the input normalisation.
public struct ResNetConfig: Sendable, Equatable, CustomStringConvertible {
    /// CIFAR: 3×3 stem, no pool, three stages of widths w, 2w, 4w (strides 1, 2, 2).
    /// torchvision: 7×7/2 stem, 3×3/2 max pool, four stages of widths w·(1, 2, 4, 8).
    public enum Family: String, Sendable { case cifar, torchvision }
    /// Basic: two 3×3 convs. Bottleneck: 1×1, 3×3 (carries the stride), 1×1 to 4× width.
    public enum Block: String, Sendable { case basic, bottleneck }

    public var family: Family
    public var block: Block
    /// Blocks per stage.
    public var blocks: [Int]
    /// Width of the stem and first stage.
    public var width: Int
    public var numClasses: Int
    /// Side of the square images the model expects (informative; any size ≥ the receptive minimum works).
    public var inputSize: Int
    /// Input normalisation (C = 3).
    public var mean: [Float]
    public var std: [Float]

    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    public init(family: Family, block: Block, blocks: [Int], width: Int, numClasses: Int, inputSize: Int,
                mean: [Float] = ResNetConfig.imagenetMean, std: [Float] = ResNetConfig.imagenetStd) throws {
        let stages = family == .cifar ? 3 : 4
        guard blocks.count == stages, blocks.allSatisfy({ $0 >= 1 }) else {
            throw TensorError.invalidArgument("\(family.rawValue) ResNet needs \(stages) stages of at least one block, got \(blocks)")
        }
        guard width >= 1, numClasses >= 1, inputSize >= 1 else {
            throw TensorError.invalidArgument("ResNet width \(width), classes \(numClasses), input size \(inputSize) must be positive")
        }
        // Upper limits, because these sizes come from model files, safetensors shapes and
        // command lines and size every allocation of the network (torchvision's widest is
        // width 64, 1,000 classes, 36 blocks in a stage): far above any real model, far below
        // an allocation that cannot succeed.
        guard width <= Self.maximumWidth, numClasses <= Self.maximumClasses, inputSize <= Self.maximumInputSize,
              blocks.allSatisfy({ $0 <= Self.maximumBlocks }) else {
            throw TensorError.invalidArgument("ResNet width \(width), classes \(numClasses), input size \(inputSize), blocks \(blocks) "
                                              + "exceed the limits (width ≤ \(Self.maximumWidth), classes ≤ \(Self.maximumClasses), "
                                              + "input size ≤ \(Self.maximumInputSize), blocks per stage ≤ \(Self.maximumBlocks))")
        }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
            throw TensorError.invalidArgument("ResNet mean/std need 3 entries with std > 0, got \(mean) / \(std)")
        }
        self.family = family; self.block = block; self.blocks = blocks; self.width = width
        self.numClasses = numClasses; self.inputSize = inputSize; self.mean = mean; self.std = std
    }

    /// The largest sizes a configuration may have (see `init`).
    public static let maximumWidth = 512, maximumClasses = 100_000, maximumInputSize = 2048, maximumBlocks = 64

    /// Standard torchvision depths.
    static let torchvisionDepths: [String: (Block, [Int])] = [
        "resnet18": (.basic, [2, 2, 2, 2]), "resnet34": (.basic, [3, 4, 6, 3]),
        "resnet50": (.bottleneck, [3, 4, 6, 3]), "resnet101": (.bottleneck, [3, 4, 23, 3]),
        "resnet152": (.bottleneck, [3, 8, 36, 3]),
    ]

    /// The architecture's name: `cifar-resnet<6n+2>`, `resnet18` … `resnet152`, or a
    /// descriptive name (`resnet-bottleneck-1-2-1-1`) for non-standard depths.
    public var name: String {
        switch family {
        case .cifar:
            if block == .basic, Set(blocks).count == 1 { return "cifar-resnet\(6 * blocks[0] + 2)" }
            return "cifar-resnet-\(block.rawValue)-" + blocks.map(String.init).joined(separator: "-")
        case .torchvision:
            if width == 64, let hit = Self.torchvisionDepths.first(where: { $0.value.0 == block && $0.value.1 == blocks }) {
                return hit.key
            }
            return "resnet-\(block.rawValue)-" + blocks.map(String.init).joined(separator: "-")
        }
    }

    public var description: String {
        "\(name) (\(family.rawValue), \(block.rawValue) blocks \(blocks), width \(width), \(numClasses) classes, input \(inputSize))"
    }

    /// Channels of the final feature map (the `features` dimension).
    public var featureDimension: Int {
        let last = width << (blocks.count - 1)
        return block == .bottleneck ? last * 4 : last
    }

    /// A configuration from an architecture name: `resnet18|34|50|101|152` (width 64 unless
    /// given) or `cifar-resnet<6n+2>` (e.g. cifar-resnet20; width 16 unless given).
    public static func named(_ name: String, numClasses: Int, width: Int? = nil, inputSize: Int? = nil,
                             mean: [Float] = imagenetMean, std: [Float] = imagenetStd) throws -> ResNetConfig {
        if let (block, blocks) = torchvisionDepths[name] {
            return try ResNetConfig(family: .torchvision, block: block, blocks: blocks, width: width ?? 64,
                                    numClasses: numClasses, inputSize: inputSize ?? 224, mean: mean, std: std)
        }
        if name.hasPrefix("cifar-resnet"), let depth = Int(name.dropFirst("cifar-resnet".count)),
           depth >= 8, (depth - 2) % 6 == 0 {
            let n = (depth - 2) / 6
            return try ResNetConfig(family: .cifar, block: .basic, blocks: [n, n, n], width: width ?? 16,
                                    numClasses: numClasses, inputSize: inputSize ?? 32, mean: mean, std: std)
        }
        throw TensorError.invalidArgument(
            "unknown architecture '\(name)': expected resnet18, resnet34, resnet50, resnet101, resnet152 or cifar-resnet<6n+2> (cifar-resnet20, …)")
    }

    /// Infers the architecture from PyTorch state-dict shapes (torchvision key names):
    /// family from the stem kernel (7×7 torchvision, 3×3 CIFAR), block kind from `conv3`,
    /// blocks per stage from the `layerK.J` indices, width from `conv1`, classes from `fc`.
    public static func infer(fromShapes shapes: [String: [Int]], inputSize: Int? = nil,
                             mean: [Float] = imagenetMean, std: [Float] = imagenetStd) throws -> ResNetConfig {
        guard let stem = shapes["conv1.weight"], stem.count == 4 else {
            throw TensorError.invalidArgument("cannot infer the architecture: no 4-D 'conv1.weight'")
        }
        guard let fc = shapes["fc.weight"], fc.count == 2 else {
            throw TensorError.invalidArgument("cannot infer the architecture: no 2-D 'fc.weight'")
        }
        var blocksPerStage: [Int: Int] = [:]
        var bottleneck = false
        for key in shapes.keys where key.hasPrefix("layer") {
            let parts = key.split(separator: ".")
            guard parts.count >= 3, let stage = Int(parts[0].dropFirst(5)), let index = Int(parts[1]) else { continue }
            blocksPerStage[stage] = Swift.max(blocksPerStage[stage] ?? 0, index + 1)
            if parts[2] == "conv3" { bottleneck = true }
        }
        let family: Family = stem[2] == 7 ? .torchvision : .cifar
        let stages = family == .cifar ? 3 : 4
        let blocks = (1...stages).map { blocksPerStage[$0] ?? 0 }
        return try ResNetConfig(family: family, block: bottleneck ? .bottleneck : .basic, blocks: blocks, width: stem[0],
                                numClasses: fc[0], inputSize: inputSize ?? (family == .cifar ? 32 : 224), mean: mean, std: std)
    }
}
