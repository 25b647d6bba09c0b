extension ImageSet {
    /// Per-channel mean and standard deviation of a split's images in [0, 1] pixel units,
    /// for a model's built-in normalisation; one streaming pass, 512 images at a time.
    public func channelStatistics(of split: DataSplit) throws -> (mean: [Float], std: [Float]) {
        let indices = indices(of: split)
        var sum = [Double](repeating: 0, count: 3), squares = [Double](repeating: 0, count: 3)
        for start in stride(from: 0, to: indices.count, by: 512) {
            let raw = try loadRaw(Array(indices[start..<min(start + 512, indices.count)]))
            for (i, value) in raw.enumerated() {
                let v = Double(value) / 255
                sum[i % 3] += v
                squares[i % 3] += v * v
            }
        }
        let count = Double(max(1, indices.count * imageSize * imageSize))
        let mean = sum.map { $0 / count }
        let std = zip(squares, mean).map { max(($0 / count - $1 * $1), 1e-6).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }
}
