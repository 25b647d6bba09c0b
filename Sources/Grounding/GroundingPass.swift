import NeuralNet

/// One forward pass over a batch: pooled features, logits, raw attribute scores (with the
/// per-image scales s of A = s·mean(M) + b) and what the maps are made from (the last map
/// for CAM, a recorded stage pass for Grad-CAM).
public struct GroundingPass {
    public let rawScores: [Float]
    public let logits: Tensor
    public let scales: [Float]
    let mapper: AttributeMapper
    let finalMap: Tensor
    let pass: ResNet.StagePass?
    let network: ResNet
    /// Input-resolution attribution instead of CAM / Grad-CAM, with its input and image rows.
    let attribution: InputAttribution?
    /// An attribute-prototype head's similarity maps at its stage instead of CAM / Grad-CAM.
    let apn: APNHead?
    /// The head's input map (`APNFeatures`) with `apn`.
    let apnInput: Tensor?
    let input: Tensor
    let rows: [Int]

    /// The pass of `x` (N, 3, H, W) through `network`, recording stage `stage` (0-based) for
    /// Grad-CAM, or the last feature map for CAM when nil; with `attribution`, maps at input
    /// resolution (`rows`: the images' rows of images.h5, which seed SmoothGrad's noise);
    /// with `apn`, the head's similarity maps at its own stage.
    public init(_ network: ResNet, _ mapper: AttributeMapper, _ x: Tensor, stage: Int?, attribution: InputAttribution? = nil,
                apn: APNHead? = nil, rows: [Int] = []) throws {
        self.network = network
        self.mapper = mapper
        self.attribution = attribution
        self.apn = apn
        self.input = x
        self.rows = rows
        if let apn {
            pass = nil
            (apnInput, finalMap) = try APNFeatures.maps(network, x, stage: apn.stage, context: apn.context)
        } else if let stage {
            apnInput = nil
            let p = try network.stagePass(x, stage: stage)
            pass = p
            finalMap = p.finalMap
        } else {
            apnInput = nil
            pass = nil
            finalMap = try network.featureMap(x)
        }
        let (n, d, h, w) = (finalMap.shape[0], finalMap.shape[1], finalMap.shape[2], finalMap.shape[3])
        var pooled = [Float](repeating: 0, count: n * d)
        for i in 0..<(n * d) {
            var sum: Float = 0
            for p in 0..<(h * w) { sum += finalMap.data[i * h * w + p] }
            pooled[i] = sum / Float(h * w)
        }
        logits = try network.logits(fromFeatures: Tensor(shape: [n, d], data: pooled))
        rawScores = mapper.scores(pooled: pooled)
        scales = mapper.scales(pooled: pooled)
    }

    /// Rows × columns of the maps.
    public var mapSize: (Int, Int) {
        if attribution != nil { return (input.shape[2], input.shape[3]) }
        let m = apnInput ?? pass?.stageMap ?? finalMap
        return (m.shape[2], m.shape[3])
    }

    /// Maps of `attributes[i]` for each image i: [N, k, h·w].
    public func maps(_ attributes: [[Int]]) throws -> [Float] {
        if let attribution {
            return try attribution.maps(network: network, mapper: mapper, x: input, attributes: attributes, rows: rows)
        }
        if let apn, let apnInput { return apn.maps(stageMap: apnInput, attributes: attributes) }
        if let pass { return try GradCAM(model: network, mapper: mapper).maps(pass, attributes: attributes, scales: scales) }
        let (d, positions) = (finalMap.shape[1], finalMap.shape[2] * finalMap.shape[3])
        var out: [Float] = []
        for (i, chosen) in attributes.enumerated() {
            out += mapper.maps(featureMap: finalMap.data[(i * d * positions)..<((i + 1) * d * positions)], positions: positions, attributes: chosen)
        }
        return out
    }
}
