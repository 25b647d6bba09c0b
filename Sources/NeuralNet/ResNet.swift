import Randomness
import Tensors

/// A residual network: CIFAR-style ResNet-(6n+2) or torchvision ResNet-18/34/50/101/152
/// (any depth and width), with PyTorch state-dict key names. See `NeuralNet.swift` for
/// the API overview.
///
/// The model is a class holding its parameters; methods that change them (training
/// steps, train-mode forwards, which update batch-norm running statistics, loading) say
/// so. Not safe to use from several threads at once; the kernels parallelise inside.
public final class ResNet {
    /// The architecture.
    public let config: ResNetConfig
    /// Every conv + batch-norm pair, stem first, then block by block (main path, then the
    /// projection shortcut).
    public internal(set) var units: [ConvBN] {
        didSet { foldedCache = nil }
    }
    /// The classifier on the pooled features.
    public internal(set) var fc: Linear {
        didSet { foldedCache = nil }
    }
    /// Input normalisation, the model's first operation.
    public let normalize: Normalize

    /// State-dict prefixes of each unit's conv and batch norm (`layer1.0.conv1`, `layer1.0.bn1`).
    let unitNames: [(conv: String, bn: String)]
    /// Residual blocks in order.
    let blocks: [BlockLayout]
    /// The 3×3/2 stem pool of torchvision models.
    let stemPool: MaxPool2d?
    /// Eval-mode folded weights, rebuilt after any parameter or running-statistic change.
    var foldedCache: [ConvBN.Folded]?
    /// Fine-tuning: parameters up to this point get no gradients and no updates (PyTorch's
    /// `requires_grad = False`); their batch norms still update running statistics in
    /// train mode, as PyTorch's do. nil: everything is trained.
    public var frozenUntil: FreezePoint?
    /// Data-parallel training: the replica group that train-mode batch norms and gradient
    /// updates are synchronised over (PyTorch's SyncBatchNorm + DDP). nil: one process.
    public var dataParallel: DataParallel?

    /// One residual block: its main-path units and the optional projection shortcut.
    struct BlockLayout: Sendable {
        let units: [Int]
        let downsample: Int?
    }

    /// A freshly initialised model as torchvision does it: Kaiming-normal convolutions
    /// (fan-out, ReLU gain), batch norm γ = 1 and β = 0, PyTorch's default uniform init for
    /// the classifier. Reproducible from `seed`.
    public init(config: ResNetConfig, seed: UInt64 = 0) {
        self.config = config
        var rng = SplitMix(seed: seed)
        var units: [ConvBN] = [], names: [(String, String)] = [], blocks: [BlockLayout] = []
        func addUnit(_ name: (String, String), in inChannels: Int, out: Int, kernel: Int, stride: Int, padding: Int) -> Int {
            let std = (2 / Float(out * kernel * kernel)).squareRoot()
            let count = out * inChannels * kernel * kernel
            let weight = Tensor(shape: [out, inChannels, kernel, kernel], data: (0..<count).map { _ in rng.normal() * std })
            units.append(ConvBN(conv: Conv2d(weight: weight, stride: stride, padding: padding), bn: BatchNorm2d(channels: out)))
            names.append(name)
            return units.count - 1
        }
        let w = config.width
        if config.family == .cifar {
            _ = addUnit(("conv1", "bn1"), in: 3, out: w, kernel: 3, stride: 1, padding: 1)
        } else {
            _ = addUnit(("conv1", "bn1"), in: 3, out: w, kernel: 7, stride: 2, padding: 3)
        }
        var inChannels = w
        for (s, count) in config.blocks.enumerated() {
            let planes = w << s
            let stageStride = s == 0 ? 1 : 2
            for b in 0..<count {
                let stride = b == 0 ? stageStride : 1
                let prefix = "layer\(s + 1).\(b)"
                var main: [Int] = []
                let out: Int
                switch config.block {
                case .basic:
                    out = planes
                    main.append(addUnit(("\(prefix).conv1", "\(prefix).bn1"), in: inChannels, out: planes, kernel: 3, stride: stride, padding: 1))
                    main.append(addUnit(("\(prefix).conv2", "\(prefix).bn2"), in: planes, out: planes, kernel: 3, stride: 1, padding: 1))
                case .bottleneck:
                    out = planes * 4
                    main.append(addUnit(("\(prefix).conv1", "\(prefix).bn1"), in: inChannels, out: planes, kernel: 1, stride: 1, padding: 0))
                    main.append(addUnit(("\(prefix).conv2", "\(prefix).bn2"), in: planes, out: planes, kernel: 3, stride: stride, padding: 1))
                    main.append(addUnit(("\(prefix).conv3", "\(prefix).bn3"), in: planes, out: out, kernel: 1, stride: 1, padding: 0))
                }
                var downsample: Int?
                if stride != 1 || inChannels != out {
                    downsample = addUnit(("\(prefix).downsample.0", "\(prefix).downsample.1"), in: inChannels, out: out,
                                         kernel: 1, stride: stride, padding: 0)
                }
                blocks.append(BlockLayout(units: main, downsample: downsample))
                inChannels = out
            }
        }
        let bound = 1 / Float(inChannels).squareRoot()
        fc = Linear(weight: Tensor(shape: [config.numClasses, inChannels],
                                   data: (0..<config.numClasses * inChannels).map { _ in Float.random(in: -bound...bound, using: &rng) }),
                    bias: Tensor(shape: [config.numClasses],
                                 data: (0..<config.numClasses).map { _ in Float.random(in: -bound...bound, using: &rng) }))
        self.units = units
        self.unitNames = names
        self.blocks = blocks
        self.stemPool = config.family == .torchvision ? MaxPool2d(kernel: 3, stride: 2, padding: 1) : nil
        // The configuration already validated mean/std.
        self.normalize = try! Normalize(mean: config.mean, std: config.std)
    }

    /// Folded eval-mode weights of every unit (cached until parameters change).
    func foldedUnits() -> [ConvBN.Folded] {
        if let foldedCache { return foldedCache }
        let f = units.map { $0.folded() }
        foldedCache = f
        return f
    }

    /// Multiply-adds of one forward pass (convolutions and classifier) for `batch` images of
    /// `height`×`width`: the basis of GFLOP/s figures (1 MAC = 2 FLOP).
    public func forwardMACs(batch: Int, height: Int, width: Int) throws -> Int {
        var total = 0
        var h = height, w = width
        func conv(_ u: ConvBN, _ h: Int, _ w: Int) throws -> ConvGeometry {
            try ConvGeometry(batch: batch, inChannels: u.conv.inChannels, height: h, width: w, outChannels: u.conv.outChannels,
                             kernelH: u.conv.weight.shape[2], kernelW: u.conv.weight.shape[3], stride: u.conv.stride,
                             padding: u.conv.padding)
        }
        var g = try conv(units[0], h, w)
        total += g.macs; h = g.outHeight; w = g.outWidth
        if let stemPool {
            let p = try ConvGeometry(batch: batch, inChannels: 1, height: h, width: w, outChannels: 1, kernelH: stemPool.kernel,
                                     kernelW: stemPool.kernel, stride: stemPool.stride, padding: stemPool.padding)
            h = p.outHeight; w = p.outWidth
        }
        for block in blocks {
            var bh = h, bw = w
            for u in block.units { g = try conv(units[u], bh, bw); total += g.macs; bh = g.outHeight; bw = g.outWidth }
            if let d = block.downsample { total += try conv(units[d], h, w).macs }
            h = bh; w = bw
        }
        return total + batch * fc.inFeatures * fc.outFeatures
    }

    /// Number of trainable parameters.
    public var parameterCount: Int {
        units.reduce(0) { $0 + $1.conv.weight.count + 2 * $1.bn.channels } + fc.weight.count + fc.bias.count
    }
}
