/// Conversions between NCHW and channels-last (NHWC) feature maps, at the edges of a
/// network run channels last (its input, its outputs, the own kernels' fallback).
public enum LayoutKernels {
    /// y (N, H, W, C) = x (N, C, H, W).
    public static func toChannelsLast(_ x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                      _ y: UnsafeMutablePointer<Float>) {
        Parallel.chunks(batch * plane, minimumPerChunk: 256) { range, _ in
            for i in range {
                let (n, p) = i.quotientAndRemainder(dividingBy: plane)
                let src = x + n * channels * plane + p, dst = y + i * channels
                for c in 0..<channels { dst[c] = src[c * plane] }
            }
        }
    }

    /// y (N, C, H, W) = x (N, H, W, C).
    public static func toChannelsFirst(_ x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                       _ y: UnsafeMutablePointer<Float>) {
        Parallel.chunks(batch * channels, minimumPerChunk: 16) { range, _ in
            for i in range {
                let (n, c) = i.quotientAndRemainder(dividingBy: channels)
                let src = x + n * plane * channels + c, dst = y + i * plane
                for p in 0..<plane { dst[p] = src[p * channels] }
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
