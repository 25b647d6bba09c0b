import NeuralNet

/// Training augmentation: a random crop from the image padded by `padding` pixels of
/// zeros on each side, then a horizontal flip with probability ½ (the standard CIFAR
/// recipe). Each image's draw comes from its own stream (seed, epoch, image index).
public struct Augmentation: Sendable {
    public var padding: Int
    public var flip: Bool

    /// Padding of one eighth of the image side (4 px at 32², 8 px at 64²).
    public static func standard(imageSize: Int) -> Augmentation {
        Augmentation(padding: max(1, imageSize / 8), flip: true)
    }

    public init(padding: Int, flip: Bool) {
        self.padding = padding
        self.flip = flip
    }

    /// Augments uint8 NHWC `raw` images (side `size`) into a (N, 3, size, size) tensor.
    public func apply(_ raw: ArraySlice<UInt8>, count: Int, size: Int, imageIndices: [Int], epoch: Int, seed: UInt64) -> Tensor {
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
                        let sy = y + dy
                        for x in 0..<size {
                            let sx = (mirrored ? size - 1 - x : x) + dx
                            let inside = sy >= 0 && sy < size && sx >= 0 && sx < size
                            for c in 0..<3 {
                                target[c * plane + y * size + x] = inside ? Float(image[(sy * size + sx) * 3 + c]) * (1 / 255) : 0
                            }
                        }
                    }
                }
            }
        }
    }
}
