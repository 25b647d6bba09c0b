import Randomness
import Tensors

/// The last part of a network that fine-tuning leaves unchanged: the stem (first conv +
/// BN), or the stem and every stage up to `layerK`. Everything after it, and always the
/// classifier, is trained.
public enum FreezePoint: String, CaseIterable, Sendable {
    case stem, layer1, layer2, layer3, layer4

    /// Stages frozen after the stem (0 for `stem`).
    public var stages: Int { FreezePoint.allCases.firstIndex(of: self)! }
}

extension ResNet {
    /// A copy with a freshly initialised classifier for `classes` classes (PyTorch's default
    /// `nn.Linear` init, U(−1/√D, 1/√D), drawn from `seed`), keeping every other parameter,
    /// running statistic and batch counter: fine-tuning imported weights on a new dataset.
    /// `inputSize` records the new dataset's image side (the network itself takes any size).
    public func withNewHead(classes: Int, inputSize: Int? = nil, seed: UInt64) throws -> ResNet {
        let d = fc.inFeatures
        var rng = SplitMix(seed: seed)
        let bound = 1 / Float(d).squareRoot()
        var tensors = Dictionary(uniqueKeysWithValues: stateDict().map { ($0.key, $0.value) })
        tensors["fc.weight"] = Tensor(shape: [classes, d], data: (0..<classes * d).map { _ in Float.random(in: -bound...bound, using: &rng) })
        tensors["fc.bias"] = Tensor(shape: [classes], data: (0..<classes).map { _ in Float.random(in: -bound...bound, using: &rng) })
        var newConfig = config
        newConfig.numClasses = classes
        if let inputSize { newConfig.inputSize = inputSize }
        let counters = Dictionary(uniqueKeysWithValues: batchesTracked.map { ($0.key, $0.value) })
        return try ResNet(config: newConfig, stateDict: tensors, numBatchesTracked: counters)
    }

    /// Checks that `point` exists in this architecture (CIFAR ResNets have three stages).
    public func validateFreezePoint(_ point: FreezePoint) throws {
        guard point.stages <= config.blocks.count else {
            throw TensorError.invalidArgument("\(config.name) has \(config.blocks.count) stages; cannot freeze up to \(point.rawValue)")
        }
    }

    /// Whether the parameter `key` (state-dict name) is frozen by `frozenUntil`.
    public func isFrozen(_ key: String) -> Bool {
        guard let frozenUntil else { return false }
        if key.hasPrefix("fc.") { return false }
        if key.hasPrefix("layer"), let dot = key.firstIndex(of: "."), let stage = Int(key[key.index(key.startIndex, offsetBy: 5)..<dot]) {
            return stage <= frozenUntil.stages
        }
        return true   // the stem: conv1, bn1
    }

    /// Number of leading residual blocks frozen by `frozenUntil` (backward stops above them).
    var frozenBlockCount: Int {
        guard let frozenUntil else { return 0 }
        return config.blocks.prefix(frozenUntil.stages).reduce(0, +)
    }
}
