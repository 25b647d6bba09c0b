import Tensors

/// Feature maps for attribution (class activation maps and Grad-CAM): the last
/// convolutional map before global average pooling, and the gradient of a linear read-out
/// of that map with respect to an earlier stage's output.
///
/// Stages are numbered from 0: stage s is torchvision's `layer{s+1}` (CIFAR ResNets have
/// three stages, torchvision ResNets four). The last stage's output is the map `features`
/// averages, so `features(x)` equals the spatial mean of `featureMap(x)` (tested).
extension ResNet {
    /// Number of residual stages.
    public var stageCount: Int { config.blocks.count }

    /// Block indices of stage `s` (0-based).
    func stageBlockRange(_ s: Int) -> Range<Int> {
        let start = config.blocks.prefix(s).reduce(0, +)
        return start..<(start + config.blocks[s])
    }

    /// The last feature map (N, D, h, w) before global average pooling, in eval mode (run in
    /// the engine's layout, returned NCHW).
    public func featureMap(_ x: Tensor) throws -> Tensor {
        let layout = layout(for: .eval)
        return try forwardMap(x, mode: .eval, record: false, layout: layout).map.converted(from: layout, to: .nchw)
    }

    /// Logits (N, K) from pooled features (N, D): the classifier alone, for callers that
    /// pooled a `featureMap` themselves (one forward pass gives map, features and logits).
    public func logits(fromFeatures features: Tensor) throws -> Tensor {
        try fc.forward(features)
    }

    /// One recorded eval-mode pass, kept so that several read-outs of the last map can be
    /// sent back to an earlier stage (one Grad-CAM per attribute) without a new forward.
    public struct StagePass {
        /// The stage whose output `stageMap` is (0-based).
        public let stage: Int
        /// That stage's output, (N, C_s, h_s, w_s).
        public let stageMap: Tensor
        /// The last feature map, (N, D, h, w).
        public let finalMap: Tensor
        let blockCaches: [[ConvBN.Cache]]
        /// The layout the pass ran in (its caches' layout; the maps above are NCHW).
        let layout: ActivationLayout
    }

    /// Runs the images once in eval mode, keeping stage `stage`'s output and what backward
    /// needs from there on. Throws for a stage outside 0..<stageCount.
    public func stagePass(_ x: Tensor, stage: Int) throws -> StagePass {
        guard (0..<stageCount).contains(stage) else {
            throw TensorError.invalidArgument("\(config.name): stage \(stage) is outside 0..<\(stageCount)")
        }
        let layout = layout(for: .eval)
        let pass = try forwardMap(x, mode: .eval, record: true, keepStage: stage, layout: layout)
        return StagePass(stage: stage, stageMap: pass.stageOutput!.converted(from: layout, to: .nchw),
                         finalMap: pass.map.converted(from: layout, to: .nchw), blockCaches: pass.blocks, layout: layout)
    }

    /// ∂(Σ r ⊙ finalMap)/∂stageMap for a read-out `r` shaped like the last map (N, D, h, w):
    /// the input-gradient half of backward through the blocks after the pass's stage, no
    /// parameter gradients. The pass is not consumed; call once per read-out.
    public func stageGradient(_ pass: StagePass, readOut r: Tensor) throws -> Tensor {
        guard r.shape == pass.finalMap.shape else {
            throw TensorError.shapeMismatch("\(config.name): read-out \(r.shape) does not match the last map \(pass.finalMap.shape)")
        }
        var d = r.converted(from: .nchw, to: pass.layout)
        for b in (stageBlockRange(pass.stage).upperBound..<blocks.count).reversed() {
            d = backwardBlock(b, d, caches: pass.blockCaches[b])
        }
        return d.converted(from: pass.layout, to: .nchw)
    }

    /// Input gradient of block `b` from its output gradient (no parameter gradients).
    /// The same steps as the training backward, which also keeps parameter gradients.
    func backwardBlock(_ b: Int, _ dOutput: Tensor, caches: [ConvBN.Cache]) -> Tensor {
        let block = blocks[b]
        var d = dOutput
        var dResidual: Tensor?
        for (i, u) in block.units.enumerated().reversed() {
            let g = units[u].backward(d, cache: caches[i], parameterGradients: false)
            if i == block.units.count - 1 { dResidual = g.residual }
            d = g.input!
        }
        let dShortcut: Tensor
        if let ds = block.downsample {
            dShortcut = units[ds].backward(dResidual!, cache: caches[block.units.count], parameterGradients: false).input!
        } else {
            dShortcut = dResidual!
        }
        d.withMutablePointer { dp in dShortcut.withPointer { ElementwiseKernels.addScaled(dp, $0, alpha: 1, count: dShortcut.count) } }
        return d
    }

    /// The last map computed from stage `stage`'s output `h` (eval mode): the forward half
    /// that `stageGradient` differentiates. For tests and for perturbation studies.
    public func finalMap(fromStage stage: Int, output h: Tensor) throws -> Tensor {
        guard (0..<stageCount).contains(stage) else {
            throw TensorError.invalidArgument("\(config.name): stage \(stage) is outside 0..<\(stageCount)")
        }
        let folded = foldedUnits()
        var h = h
        for b in stageBlockRange(stage).upperBound..<blocks.count {
            h = try forwardBlock(b, consume h, mode: .eval, record: false, folded: folded).output
        }
        return h
    }
}
