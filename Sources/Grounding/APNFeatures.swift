import NeuralNet

/// The map an `APNHead` reads: residual stage `stage`'s output, with the outputs of the
/// `context` stages resampled to its size and appended as channels (a hypercolumn: a finer
/// stage's local detail, a coarser stage's wider view of the bird, at every position). A
/// finer stage is average-pooled, a coarser one upsampled bilinearly (half-pixel centres, as
/// `Map2D.upsampled`). Eval mode; the classifier is not changed.
public enum APNFeatures {
    /// The head's input map (N, C, h, w) for images `x`, and the classifier's last map (for its
    /// pooled features and logits).
    public static func maps(_ network: ResNet, _ x: Tensor, stage: Int, context: [Int]) throws -> (maps: Tensor, finalMap: Tensor) {
        let main = try network.stagePass(x, stage: stage)
        guard !context.isEmpty else { return (main.stageMap, main.finalMap) }
        let (n, h, w) = (main.stageMap.shape[0], main.stageMap.shape[2], main.stageMap.shape[3])
        var parts = [main.stageMap]
        for s in context {
            let m = s == network.stageCount - 1 ? main.finalMap : try network.stagePass(x, stage: s).stageMap
            parts.append(resampled(m, rows: h, columns: w))
        }
        let channels = parts.map { $0.shape[1] }
        let total = channels.reduce(0, +), plane = h * w
        var out = [Float](repeating: 0, count: n * total * plane)
        for i in 0..<n {
            var offset = 0
            for (t, c) in zip(parts, channels) {
                let source = i * c * plane, target = (i * total + offset) * plane
                for j in 0..<(c * plane) { out[target + j] = t.data[source + j] }
                offset += c
            }
        }
        return (Tensor(shape: [n, total, h, w], data: out), main.finalMap)
    }

    /// `m` (N, C, h', w') at rows × columns: average pooling when h' is a multiple of rows,
    /// else bilinear resampling.
    public static func resampled(_ m: Tensor, rows: Int, columns: Int) -> Tensor {
        let (n, c, h, w) = (m.shape[0], m.shape[1], m.shape[2], m.shape[3])
        if h == rows && w == columns { return m }
        var out = [Float](repeating: 0, count: n * c * rows * columns)
        for plane in 0..<(n * c) {
            let source = Array(m.data[(plane * h * w)..<((plane + 1) * h * w)])
            let target = plane * rows * columns
            if h > rows, h % rows == 0, w % columns == 0 {
                let (fr, fc) = (h / rows, w / columns)
                let scale = 1 / Float(fr * fc)
                for r in 0..<rows {
                    for col in 0..<columns {
                        var sum: Float = 0
                        for dr in 0..<fr { for dc in 0..<fc { sum += source[(r * fr + dr) * w + col * fc + dc] } }
                        out[target + r * columns + col] = sum * scale
                    }
                }
            } else {
                let up = Map2D(rows: h, columns: w, values: source).upsampled(rows: rows, columns: columns).values
                for j in 0..<(rows * columns) { out[target + j] = up[j] }
            }
        }
        return Tensor(shape: [n, c, rows, columns], data: out)
    }
}
