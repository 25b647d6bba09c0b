import ArgumentParser
import NeuralNet

/// How a crop reaches outside the image: zeros, or the image mirrored at its border
/// without repeating the edge pixel (index −1 → 1, size → size − 2; PyTorch's
/// `padding_mode="reflect"`, NumPy's "reflect").
public enum PadMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case zero, reflect
}

/// Training augmentation: a random crop from the image padded by `padding` pixels on each
/// side (zeros or reflected), then a horizontal flip with probability ½ (the standard CIFAR
/// recipe). Each image's draw comes from its own stream (seed, epoch, image index).
public struct Augmentation: Sendable {
    public var padding: Int
    public var flip: Bool
    public var mode: PadMode
    /// When set, a random resized crop (then the flip) replaces the padded crop.
    public var resizedCrop: ResizedCrop?

    /// Padding of one eighth of the image side (4 px at 32², 8 px at 64²).
    public static func standard(imageSize: Int, mode: PadMode = .zero) -> Augmentation {
        Augmentation(padding: max(1, imageSize / 8), flip: true, mode: mode)
    }

    public init(padding: Int, flip: Bool, mode: PadMode = .zero) {
        self.padding = padding
        self.flip = flip
        self.mode = mode
    }

    /// Source index for padded coordinate `i` of a side of length `size` (nil: zero).
    @inline(__always)
    static func source(_ i: Int, size: Int, mode: PadMode) -> Int? {
        if i >= 0 && i < size { return i }
        guard mode == .reflect, size > 1 else { return nil }
        // Mirror without repeating the edge; folding repeats for offsets beyond one side.
        let period = 2 * (size - 1)
        var j = i % period
        if j < 0 { j += period }
        return j < size ? j : period - j
    }

    /// Augments uint8 NHWC `raw` images (side `size`) into a (N, 3, size, size) tensor.
    public func apply(_ raw: ArraySlice<UInt8>, count: Int, size: Int, imageIndices: [Int], epoch: Int, seed: UInt64) -> Tensor {
        if let resizedCrop {
            return resizedCrop.apply(raw, count: count, size: size, imageIndices: imageIndices, epoch: epoch, seed: seed, flip: flip)
        }
        let plane = size * size
        return Tensor(shape: [count, 3, size, size]) { out in
            raw.withUnsafeBufferPointer { src in
                for n in 0..<count {
                    var rng = SampleRandom.generator(seed: seed, .augment, epoch, imageIndices[n])
                    let dx = Int(rng.next() % UInt64(2 * padding + 1)) - padding
                    let dy = Int(rng.next() % UInt64(2 * padding + 1)) - padding
                    let mirrored = flip && rng.next() & 1 == 1
                    let image = src.baseAddress! + n * plane * 3
                    let target = out + n * plane * 3
                    for y in 0..<size {
                        let sy = Self.source(y + dy, size: size, mode: mode)
                        for x in 0..<size {
                            let sx = Self.source((mirrored ? size - 1 - x : x) + dx, size: size, mode: mode)
                            for c in 0..<3 {
                                if let sy, let sx {
                                    target[c * plane + y * size + x] = Float(image[(sy * size + sx) * 3 + c]) * (1 / 255)
                                } else {
                                    target[c * plane + y * size + x] = 0
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
