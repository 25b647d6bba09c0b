import Tensors

/// A state dict that does not fit the architecture: every missing, unexpected and
/// wrongly shaped key is listed.
public struct StateDictMismatch: Error, CustomStringConvertible, Equatable {
    public let architecture: String
    public let missing: [String]
    public let unexpected: [String]
    /// (key, expected shape, found shape)
    public let wrongShape: [WrongShape]

    public struct WrongShape: Equatable, Sendable {
        public let key: String
        public let expected: [Int]
        public let found: [Int]

        public init(key: String, expected: [Int], found: [Int]) {
            self.key = key; self.expected = expected; self.found = found
        }
    }

    public var description: String {
        var lines = ["parameters do not match \(architecture):"]
        if !missing.isEmpty { lines.append("  missing keys (\(missing.count)): " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { lines.append("  unexpected keys (\(unexpected.count)): " + unexpected.joined(separator: ", ")) }
        if !wrongShape.isEmpty {
            lines.append("  wrongly shaped keys (\(wrongShape.count)): "
                         + wrongShape.map { "\($0.key) expected \($0.expected) found \($0.found)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}

extension ResNet {
    /// Visits every trainable parameter (conv and linear weights, BN γ/β, fc bias) by its
    /// state-dict key, allowing in-place updates.
    public func updateParameters(_ body: (String, inout Tensor) throws -> Void) rethrows {
        for i in units.indices {
            let (conv, bn) = unitNames[i]
            try body("\(conv).weight", &units[i].conv.weight)
            try body("\(bn).weight", &units[i].bn.weight)
            try body("\(bn).bias", &units[i].bn.bias)
        }
        try body("fc.weight", &fc.weight)
        try body("fc.bias", &fc.bias)
    }

    /// Visits parameters and running statistics: every float tensor of the state dict.
    func updateState(_ body: (String, inout Tensor) throws -> Void) rethrows {
        for i in units.indices {
            let (conv, bn) = unitNames[i]
            try body("\(conv).weight", &units[i].conv.weight)
            try body("\(bn).weight", &units[i].bn.weight)
            try body("\(bn).bias", &units[i].bn.bias)
            try body("\(bn).running_mean", &units[i].bn.runningMean)
            try body("\(bn).running_var", &units[i].bn.runningVar)
        }
        try body("fc.weight", &fc.weight)
        try body("fc.bias", &fc.bias)
    }

    /// The float tensors of the state dict in PyTorch's order and layouts
    /// (`num_batches_tracked` is in `batchesTracked`).
    public func stateDict() -> [(key: String, value: Tensor)] {
        var out: [(String, Tensor)] = []
        for i in units.indices {
            let (conv, bn) = unitNames[i]
            let u = units[i]
            out += [("\(conv).weight", u.conv.weight), ("\(bn).weight", u.bn.weight), ("\(bn).bias", u.bn.bias),
                    ("\(bn).running_mean", u.bn.runningMean), ("\(bn).running_var", u.bn.runningVar)]
        }
        out += [("fc.weight", fc.weight), ("fc.bias", fc.bias)]
        return out.map { (key: $0.0, value: $0.1) }
    }

    /// `<bn>.num_batches_tracked` of every batch norm.
    public var batchesTracked: [(key: String, value: Int64)] {
        units.indices.map { (key: "\(unitNames[$0].bn).num_batches_tracked", value: units[$0].bn.numBatchesTracked) }
    }

    /// Replaces every parameter and running statistic from a state dict (PyTorch key names
    /// and layouts). All keys must be present with the right shapes; `num_batches_tracked`
    /// entries are optional. On a mismatch nothing changes and `StateDictMismatch` lists
    /// every missing, unexpected and wrongly shaped key.
    public func load(stateDict: [String: Tensor], numBatchesTracked: [String: Int64] = [:]) throws {
        var missing: [String] = [], wrong: [StateDictMismatch.WrongShape] = []
        var expected = Set<String>()
        for (key, value) in self.stateDict() {
            expected.insert(key)
            guard let given = stateDict[key] else { missing.append(key); continue }
            if given.shape != value.shape {
                wrong.append(.init(key: key, expected: value.shape, found: given.shape))
            }
        }
        let unexpected = stateDict.keys.filter { !expected.contains($0) && !$0.hasSuffix("num_batches_tracked") }.sorted()
        let trackedKeys = Set(batchesTracked.map(\.key))
        let unexpectedTracked = numBatchesTracked.keys.filter { !trackedKeys.contains($0) }.sorted()
        guard missing.isEmpty, wrong.isEmpty, unexpected.isEmpty, unexpectedTracked.isEmpty else {
            throw StateDictMismatch(architecture: config.description, missing: missing,
                                    unexpected: unexpected + unexpectedTracked, wrongShape: wrong)
        }
        updateState { key, tensor in tensor = stateDict[key]! }
        for i in units.indices {
            if let n = numBatchesTracked["\(unitNames[i].bn).num_batches_tracked"] { units[i].bn.numBatchesTracked = n }
        }
        foldedCache = nil
    }

    /// A model of architecture `config` holding `stateDict` (validated as in `load(stateDict:)`).
    public convenience init(config: ResNetConfig, stateDict: [String: Tensor], numBatchesTracked: [String: Int64] = [:]) throws {
        self.init(config: config, seed: 0)
        try load(stateDict: stateDict, numBatchesTracked: numBatchesTracked)
    }
}
