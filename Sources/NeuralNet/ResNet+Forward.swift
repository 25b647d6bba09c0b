import Tensors

extension ResNet {
    /// Everything backward needs from one forward pass.
    struct Trace {
        let mode: Mode
        /// The feature maps' layout.
        let layout: ActivationLayout
        var stem: ConvBN.Cache?
        var pool: MaxPool2d.Cache?
        /// Per block: main-path unit caches in order, then the shortcut's if any.
        var blocks: [[ConvBN.Cache]]
        /// Shape of the last feature map, (N, D, h, w) (channels last: (N, h, w, D)).
        let finalMapShape: [Int]
        /// Pooled features, the classifier's input, (N, D).
        let features: Tensor
    }

    /// Checks an image batch: (N, 3, H, W), N ≥ 1.
    func validateInput(_ x: Tensor) throws {
        guard x.rank == 4 else {
            throw TensorError.shapeMismatch("\(config.name): expected images as (N, 3, H, W), got shape \(x.shape)")
        }
        guard x.shape[1] == normalize.mean.count else {
            throw TensorError.shapeMismatch("\(config.name): expected \(normalize.mean.count) channels (RGB), got \(x.shape[1]) in input \(x.shape)")
        }
        guard x.shape[0] >= 1 else { throw TensorError.shapeMismatch("\(config.name): empty batch \(x.shape)") }
    }

    /// The forward pass: logits (N, K), features (N, D) and, when `record`, what backward needs.
    /// Train mode uses batch statistics and updates the running statistics. `layout` is the
    /// feature maps' (`layout(for:)`).
    func run(_ x: Tensor, mode: Mode, record: Bool, layout: ActivationLayout = .nchw)
        throws -> (logits: Tensor, features: Tensor, trace: Trace?) {
        let pass = try forwardMap(x, mode: mode, record: record, layout: layout)
        let features = try KernelProfile.measure("global average pool forward") { try GlobalAvgPool.forward(pass.map, layout: layout) }
        let logits = try KernelProfile.measure("fc forward") { try fc.forward(features) }
        let trace = record ? Trace(mode: mode, layout: layout, stem: pass.stem, pool: pass.pool, blocks: pass.blocks,
                                   finalMapShape: pass.map.shape, features: features) : nil
        return (logits, features, trace)
    }

    /// What the convolutional part of a forward pass produced: the last feature map
    /// (N, D, h, w), before global average pooling, with the caches backward needs when
    /// recorded, and the output of one residual stage when asked for (Grad-CAM).
    struct MapPass {
        var map: Tensor
        var stem: ConvBN.Cache?
        var pool: MaxPool2d.Cache?
        var blocks: [[ConvBN.Cache]]
        /// Output of the stage asked for, (N, C_s, h_s, w_s).
        var stageOutput: Tensor?
    }

    /// Stem, stem pool and every residual block: the last feature map before pooling, in
    /// `layout` (the input x is NCHW either way). `keepStage` (0-based) also returns that
    /// stage's output (in `layout`).
    func forwardMap(_ x: Tensor, mode: Mode, record: Bool, keepStage: Int? = nil,
                    layout: ActivationLayout = .nchw) throws -> MapPass {
        try validateInput(x)
        if mode == .train { foldedCache = nil }   // running statistics are about to change
        let folded = mode == .eval ? foldedUnits() : nil
        let sync = mode == .train ? dataParallel : nil
        var h = try KernelProfile.measure("input normalisation") { try normalize.forward(x) }
        if layout == .nhwc { h = KernelProfile.measure("input to channels last") { h.channelsLast() } }
        // In bf16 training each unit whose output a convolution reads next writes its bf16 copy
        // as well (`ConvBN.forward`'s `lowOutput`), which that convolution takes instead of
        // converting it (a block's input: both its first unit and its shortcut).
        var stemCache: ConvBN.Cache
        (h, stemCache) = try forwardUnit(0, h, mode: mode, relu: true, folded: folded, sync: sync, layout: layout,
                                         lowOutput: stemPool == nil && !blocks.isEmpty)
        var low = stemCache.lowOutput
        var poolCache: MaxPool2d.Cache?
        if let stemPool {
            if record {
                let (pooled, cache) = try KernelProfile.measure("max pool forward") { try stemPool.forward(h, layout: layout) }
                h = pooled; poolCache = cache
            } else {
                h = try KernelProfile.measure("max pool forward") { try stemPool(h, layout: layout) }
            }
            low = nil
        }
        let lastBlockOfKept = keepStage.map { stageBlockRange($0).upperBound - 1 }
        var stageOutput: Tensor?
        var blockCaches: [[ConvBN.Cache]] = []
        if record { blockCaches.reserveCapacity(blocks.count) }
        // In a recorded eval pass with bf16 convolutions (an attack step) each block's input is
        // rounded to bf16 once, here, for the block's convolutions, and the unit that wrote it
        // keeps that copy for ReLU's mask instead of the fp32 map (`ConvBN.Cache.keepMask`): the
        // block's residual sum then writes into the map's buffer without copying it first.
        let masksInBF16 = mode == .eval && record && Self.innerOutputsInBF16 && ConvKernels.keepsLowInputs(layout: layout)
        for b in blocks.indices {
            if masksInBF16 {
                let copy = h.withPointer { BF16Copy(rounding: $0, count: h.count) }
                if b > 0 {
                    blockCaches[b - 1][blocks[b - 1].units.count - 1].keepMask(from: copy)
                } else if stemPool == nil {
                    stemCache.keepMask(from: copy)
                }
                low = copy
            }
            let (y, caches, yLow) = try forwardBlock(b, consume h, mode: mode, record: record, folded: folded, sync: sync,
                                                     layout: layout, lowInput: low, lowOutput: b + 1 < blocks.count)
            h = y
            low = yLow
            if record { blockCaches.append(caches) }
            if b == lastBlockOfKept { stageOutput = h }
        }
        return MapPass(map: h, stem: record ? stemCache : nil, pool: poolCache, blocks: blockCaches, stageOutput: stageOutput)
    }

    /// One residual block: main path, shortcut, residual add and ReLU. Caches (main-path
    /// units, then the shortcut's) when `record`. `lowInput` is the input's bf16 copy, or nil;
    /// in train mode `lowOutput` asks for the output's (returned when made); eval mode hands
    /// bf16 copies on within the block (`evalBlock`).
    func forwardBlock(_ b: Int, _ input: consuming Tensor, mode: Mode, record: Bool, folded: [ConvBN.Folded]?,
                      sync: DataParallel? = nil, layout: ActivationLayout = .nchw, lowInput: BF16Copy? = nil,
                      lowOutput: Bool = false)
        throws -> (output: Tensor, caches: [ConvBN.Cache], lowOutput: BF16Copy?) {
        if mode == .eval {
            let (y, caches) = try evalBlock(b, consume input, record: record, folded: folded, layout: layout, lowInput: lowInput)
            return (y, caches, nil)
        }
        let block = blocks[b]
        var h = copy input
        var shortcut = copy input
        var shortcutCache: ConvBN.Cache?
        var low = lowInput
        if let d = block.downsample {
            let (s, c) = try forwardUnit(d, input, mode: mode, relu: false, folded: folded, sync: sync, layout: layout,
                                         lowInput: lowInput)
            shortcut = s; shortcutCache = c
            // The shortcut made the input's copy if it was not given: the first unit reads it too.
            if low == nil { low = c.lowInput }
        }
        var caches: [ConvBN.Cache] = []
        for (i, u) in block.units.enumerated() {
            let last = i == block.units.count - 1
            let (y, c) = try forwardUnit(u, h, mode: mode, residual: last ? shortcut : nil, relu: true, folded: folded,
                                         sync: sync, layout: layout, lowInput: low, lowOutput: !last || lowOutput)
            h = y
            low = c.lowOutput
            if record { caches.append(c) }
        }
        if record, let shortcutCache { caches.append(shortcutCache) }
        return (h, caches, low)
    }

    /// `forwardBlock` in eval mode. Where convolutions run in bf16 on oneDNN, every unit but
    /// the last (whose residual needs fp32) hands its output on in bf16 alone, which only the
    /// next unit's convolution reads (`ConvBN.evalForward`), and a block with a projection
    /// shortcut converts its input to bf16 once for the two convolutions that read it (the
    /// shortcut's and the first unit's), rounding as their own conversions would, unless
    /// `lowInput` gives that copy (any block: `forwardMap`'s masks in bf16).
    ///
    /// The last unit writes the block's output into the residual's buffer (the shortcut's
    /// output, or the block's input once the units before have read it), which saves
    /// copying the residual into the output first: `input` is taken (`consuming`), and when
    /// nothing else holds it — no recorded cache, no caller's copy — it is not copied at all.
    func evalBlock(_ b: Int, _ input: consuming Tensor, record: Bool, folded: [ConvBN.Folded]?, layout: ActivationLayout,
                   lowInput: BF16Copy? = nil) throws -> (output: Tensor, caches: [ConvBN.Cache]) {
        let block = blocks[b]
        let low = Self.innerOutputsInBF16 && ConvKernels.keepsLowInputs(layout: layout)
        precondition(lowInput == nil || (low && lowInput!.isFilled && lowInput!.count == input.count),
                     "ResNet.evalBlock: a filled bf16 copy of the input, where convolutions read bf16 copies")
        var a = lowInput.map { ConvBN.Activation.bf16($0, shape: input.shape) } ?? .fp32(copy input)
        var residual: Tensor
        var shortcutCache: ConvBN.Cache?
        if let d = block.downsample {
            if low && lowInput == nil {
                a = .bf16(input.withPointer { BF16Copy(rounding: $0, count: input.count) }, shape: input.shape)
            }
            let (s, c) = try units[d].evalForward(a, relu: false, folded: folded?[d], layout: layout)
            residual = s.tensor; shortcutCache = c
        } else {
            residual = consume input
        }
        var caches: [ConvBN.Cache] = []
        for u in block.units.dropLast() {
            let (y, c) = try units[u].evalForward(a, relu: true, folded: folded?[u], layout: layout, lowOutput: low)
            a = y
            if record { caches.append(c) }
        }
        let last = block.units.last!
        let (y, c) = try units[last].evalForward(a, residual: consume residual, relu: true, folded: folded?[last], layout: layout)
        if record { caches.append(c) }
        if record, let shortcutCache { caches.append(shortcutCache) }
        return (y.tensor, caches)
    }

    /// Whether eval-mode blocks may hand activations on in bf16 alone (`evalBlock`). Tests
    /// turn it off to compare with the fp32 hand-over, which gives the same bits.
    nonisolated(unsafe) static var innerOutputsInBF16 = true

    /// The feature maps' layout for a pass: the engine's (`Engine.activationLayout`), except
    /// NCHW for synchronised (data-parallel) batch norm and for parameter gradients in eval
    /// mode, which only the NCHW kernels compute.
    func layout(for mode: Mode, parameterGradients: Bool = false) -> ActivationLayout {
        if mode == .train && dataParallel != nil { return .nchw }
        if mode == .eval && parameterGradients { return .nchw }
        return Engine.activationLayout
    }

    /// Unit `u`'s forward. Eval mode only reads the unit: writing it back would fire `units`'
    /// observer, which drops the folded weights (and their kept copies) on every pass.
    /// `lowInput` / `lowOutput`: as `ConvBN.forward`'s (train mode only).
    func forwardUnit(_ u: Int, _ x: Tensor, mode: Mode, residual: Tensor? = nil, relu: Bool, folded: [ConvBN.Folded]?,
                     sync: DataParallel?, layout: ActivationLayout, lowInput: BF16Copy? = nil,
                     lowOutput: Bool = false) throws -> (output: Tensor, cache: ConvBN.Cache) {
        if mode == .eval {
            return try units[u].evalForward(x, residual: residual, relu: relu, folded: folded?[u], layout: layout)
        }
        return try units[u].forward(x, mode: mode, residual: residual, relu: relu, sync: sync, layout: layout,
                                    lowInput: lowInput, lowOutput: lowOutput)
    }

    /// Logits (N, K) for images x (N, 3, H, W) in [0, 1]. Eval mode by default; train mode
    /// normalises with batch statistics and updates the running statistics.
    public func logits(_ x: Tensor, mode: Mode = .eval) throws -> Tensor {
        try run(x, mode: mode, record: false, layout: layout(for: mode)).logits
    }

    /// Penultimate features (N, D), after global average pooling, in eval mode.
    public func features(_ x: Tensor) throws -> Tensor {
        try run(x, mode: .eval, record: false, layout: layout(for: .eval)).features
    }

    /// Logits and features from one eval-mode pass.
    public func logitsAndFeatures(_ x: Tensor) throws -> (logits: Tensor, features: Tensor) {
        let r = try run(x, mode: .eval, record: false, layout: layout(for: .eval))
        return (r.logits, r.features)
    }

    /// Predicted classes (argmax of the eval-mode logits).
    public func predict(_ x: Tensor) throws -> [Int] {
        ResNet.argmax(try logits(x))
    }

    /// Row-wise argmax of a (N, K) matrix (the first maximum on ties).
    public static func argmax(_ logits: Tensor) -> [Int] {
        let k = logits.shape[1]
        return (0..<logits.shape[0]).map { n in
            var best = 0
            for j in 1..<k where logits.data[n * k + j] > logits.data[n * k + best] { best = j }
            return best
        }
    }
}
