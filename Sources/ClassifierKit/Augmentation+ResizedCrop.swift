import Foundation
import NeuralNet
import Randomness

/// torchvision's `RandomResizedCrop` (the ImageNet fine-tuning recipe): a crop of a random
/// area fraction in `scale` and aspect ratio (log-uniform) in `ratio`, resized back to the
/// image side with bilinear interpolation (no antialiasing), then a horizontal flip with
/// probability ½. As in torchvision, 10 attempts are made to fit the crop in the image;
/// after that the whole image is used. Each image's draw comes from its own stream
/// (seed, epoch, image index), so it does not depend on batching or on the rank count.
public struct ResizedCrop: Sendable, Equatable {
    public var scale: ClosedRange<Double>
    public var ratio: ClosedRange<Double>

    /// torchvision's defaults: area 8–100 %, aspect 3/4–4/3.
    public static let imagenet = ResizedCrop(scale: 0.08...1, ratio: (3.0 / 4)...(4.0 / 3))

    public init(scale: ClosedRange<Double>, ratio: ClosedRange<Double>) {
        self.scale = scale
        self.ratio = ratio
    }

    /// The crop box (top, left, height, width) in a `size`×`size` image.
    func box(size: Int, rng: inout SplitMix) -> (top: Int, left: Int, height: Int, width: Int) {
        let area = Double(size * size)
        for _ in 0..<10 {
            let target = area * rng.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(rng.uniform(log(ratio.lowerBound), log(ratio.upperBound)))
            let w = Int((target * aspect).squareRoot().rounded()), h = Int((target / aspect).squareRoot().rounded())
            if w > 0, h > 0, w <= size, h <= size {
                let top = Int(rng.next() % UInt64(size - h + 1)), left = Int(rng.next() % UInt64(size - w + 1))
                return (top, left, h, w)
            }
        }
        return (0, 0, size, size)
    }

    /// Augments uint8 NHWC `raw` images (side `size`) into a (N, 3, size, size) tensor in [0, 1].
    public func apply(_ raw: ArraySlice<UInt8>, count: Int, size: Int, imageIndices: [Int], epoch: Int, seed: UInt64,
                      flip: Bool) -> Tensor {
        let plane = size * size
        return Tensor(shape: [count, 3, size, size]) { out in
            raw.withUnsafeBufferPointer { src in
                for n in 0..<count {
                    var rng = SampleRandom.generator(seed: seed, .augment, epoch, imageIndices[n])
                    let (top, left, h, w) = box(size: size, rng: &rng)
                    let mirrored = flip && rng.next() & 1 == 1
                    let image = src.baseAddress! + n * plane * 3
                    let target = out + n * plane * 3
                    // Pixel centres: output x maps to left + (x + ½)·w/size − ½ (align_corners = false).
                    let sy = Double(h) / Double(size), sx = Double(w) / Double(size)
                    for y in 0..<size {
                        let fy = min(max(Double(top) + (Double(y) + 0.5) * sy - 0.5, 0), Double(size - 1))
                        let y0 = Int(fy), y1 = min(y0 + 1, size - 1), wy = Float(fy - Double(y0))
                        for x in 0..<size {
                            let ox = mirrored ? size - 1 - x : x
                            let fx = min(max(Double(left) + (Double(ox) + 0.5) * sx - 0.5, 0), Double(size - 1))
                            let x0 = Int(fx), x1 = min(x0 + 1, size - 1), wx = Float(fx - Double(x0))
                            for c in 0..<3 {
                                let a = Float(image[(y0 * size + x0) * 3 + c]), b = Float(image[(y0 * size + x1) * 3 + c])
                                let d = Float(image[(y1 * size + x0) * 3 + c]), e = Float(image[(y1 * size + x1) * 3 + c])
                                let top = a + (b - a) * wx, bottom = d + (e - d) * wx
                                target[c * plane + y * size + x] = (top + (bottom - top) * wy) * (1 / 255)
                            }
                        }
                    }
                }
            }
        }
    }
}
