/// Conversions between NCHW and channels-last (NHWC) feature maps, at the edges of a
/// network run channels last (its input, its outputs, the own kernels' fallback).
public enum LayoutKernels {
    /// y (N, H, W, C) = x (N, C, H, W).
    public static func toChannelsLast(_ x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                      _ y: UnsafeMutablePointer<Float>) {
        transposeImages(x, batch: batch, rows: channels, columns: plane, y)
    }

    /// y (N, C, H, W) = x (N, H, W, C).
    public static func toChannelsFirst(_ x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                       _ y: UnsafeMutablePointer<Float>) {
        transposeImages(x, batch: batch, rows: plane, columns: channels, y)
    }

    /// Each image's rows × columns matrix transposed, in 16 × 16 tiles (so that both the reads
    /// and the writes stay within a few cache lines), the tiles spread over the threads.
    static func transposeImages(_ x: UnsafePointer<Float>, batch: Int, rows: Int, columns: Int, _ y: UnsafeMutablePointer<Float>) {
        let tile = 16
        let rowTiles = (rows + tile - 1) / tile, columnTiles = (columns + tile - 1) / tile
        let perImage = rowTiles * columnTiles
        Parallel.chunks(batch * perImage, minimumPerChunk: 16) { range, _ in
            for t in range {
                let (n, k) = t.quotientAndRemainder(dividingBy: perImage)
                let (rt, ct) = k.quotientAndRemainder(dividingBy: columnTiles)
                let src = x + n * rows * columns, dst = y + n * rows * columns
                let r0 = rt * tile, c0 = ct * tile
                let r1 = Swift.min(rows, r0 + tile), c1 = Swift.min(columns, c0 + tile)
                for c in c0..<c1 {
                    let out = dst + c * rows
                    for r in r0..<r1 { out[r] = src[r * columns + c] }
                }
            }
        }
    }
}

extension Tensor {
    /// This NCHW batch (N, C, H, W) as channels last, (N, H, W, C).
    public func channelsLast() -> Tensor {
        precondition(rank == 4, "channelsLast: expected (N, C, H, W), got \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        return Tensor(shape: [n, h, w, c]) { out in
            withPointer { LayoutKernels.toChannelsLast($0, batch: n, channels: c, plane: h * w, out) }
        }
    }

    /// This channels-last batch (N, H, W, C) as NCHW, (N, C, H, W).
    public func channelsFirst() -> Tensor {
        precondition(rank == 4, "channelsFirst: expected (N, H, W, C), got \(shape)")
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        return Tensor(shape: [n, c, h, w]) { out in
            withPointer { LayoutKernels.toChannelsFirst($0, batch: n, channels: c, plane: h * w, out) }
        }
    }

    /// This batch, in `layout`, converted to `target` (itself when they agree).
    public func converted(from layout: ActivationLayout, to target: ActivationLayout) -> Tensor {
        if layout == target { return self }
        return target == .nhwc ? channelsLast() : channelsFirst()
    }
}
