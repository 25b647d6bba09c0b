import Tensors

extension ResNet {
    /// Mean cross-entropy plus a further loss of residual stage `stage`'s output (0-based), and
    /// the gradients of every parameter of their sum: one pass for training with an auxiliary
    /// head on an earlier stage (APN's end-to-end training, `train --apn-aux`).
    ///
    /// `stageLoss(stageMap)` gets that stage's output (N, C, h, w) of this very pass (batch
    /// statistics in train mode) and returns its loss and ∂loss/∂stageMap (same shape), any
    /// weight already applied; the gradient joins the cross-entropy's where backward reaches
    /// the stage (checked against finite differences in NeuralNetTests/StageLossTests).
    public func lossAndGradients(_ x: Tensor, labels: [Int], mode: Mode = .train, stage: Int,
                                 stageLoss: (Tensor) throws -> (loss: Float, gradient: Tensor))
        throws -> (loss: Float, stageLoss: Float, logits: Tensor, gradients: Gradients) {
        try validateLabels(labels, batch: x.shape.first ?? 0)
        guard (0..<stageCount).contains(stage) else {
            throw TensorError.invalidArgument("\(config.name): stage \(stage) is outside 0..<\(stageCount)")
        }
        // NCHW: the stage map is read and its gradient added in the planar layout.
        let pass = try forwardMap(x, mode: mode, record: true, keepStage: stage, layout: .nchw)
        let features = try GlobalAvgPool.forward(pass.map, layout: .nchw)
        let logits = try fc.forward(features)
        var trace = Trace(mode: mode, layout: .nchw, stem: pass.stem, pool: pass.pool, blocks: pass.blocks, finalMapShape: pass.map.shape,
                          features: features)
        let stageMap = pass.stageOutput!
        let (extraLoss, extraGradient) = try stageLoss(stageMap)
        guard extraGradient.shape == stageMap.shape else {
            throw TensorError.shapeMismatch("\(config.name): stage gradient \(extraGradient.shape) for the stage map \(stageMap.shape)")
        }
        let (loss, dLogits) = try CrossEntropy.lossAndGradient(logits: logits, labels: labels)
        let fcGrads = fc.backward(dLogits, input: features, parameterGradients: true)
        var (_, grads) = backward(&trace, dFeatures: fcGrads.input, parameterGradients: true, inputGradient: false,
                                  stageGradient: (stage, extraGradient))
        grads.tensors["fc.weight"] = fcGrads.weight
        grads.tensors["fc.bias"] = fcGrads.bias
        return (loss, extraLoss, logits, grads)
    }
}
