import Foundation
import ImageIO
import Randomness

/// One rendered bird with its ground truth.
public struct RenderedBird: Sendable {
    /// The image (size × size RGB).
    public var image: RGBImage
    /// CUB's 15 parts (`cubPartNames` order), in pixels of `image`; hidden or off-image
    /// parts are (0, 0, not visible).
    public var keypoints: [Keypoint]
    /// Tight box around the bird's pixels (coverage ≥ ½), perch excluded.
    public var box: Box
    /// Per pixel, the region that gives it at least 90% of its colour (`RenderedPart` raw
    /// values; `.edge` for anti-aliased boundaries mixing several), when asked for; used by
    /// tests to check attributes against pixels.
    public var partMap: [UInt8]?
    /// Per pixel, 0 for background or perch, p + 1 for CUB part p (`cubPartNames`): the part
    /// of the topmost layer covering at least half the pixel, with left and right swapped
    /// for birds facing left (as the keypoints are). Always computed.
    public var partMask: [UInt8]
}

/// Draws birds from attribute values: parts as anti-aliased signed-distance shapes, at a
/// random position, scale (set by the size attribute), facing direction and slight
/// rotation, on a random background. Deterministic: the same attributes and generator
/// state give the same bytes.
public struct BirdRenderer: Sendable {
    /// Side of the square images, in pixels.
    public let size: Int
    /// The bird's span as a multiple of its size attribute's `frameFraction` (1: as CUB's sizes
    /// say; larger birds show their parts with more pixels, and may be cut by the frame).
    public let birdScale: Double

    public init(size: Int, birdScale: Double = 1) {
        precondition(size >= 8, "images must be at least 8 pixels across")
        precondition(birdScale > 0 && birdScale.isFinite, "the bird scale must be positive")
        self.size = size
        self.birdScale = birdScale
    }

    /// Renders `attributes` with all variation drawn from `rng`.
    public func render(_ attributes: BirdAttributes, rng: inout SplitMix, partMap wantPartMap: Bool = false) -> RenderedBird {
        let n = size
        var pixels = [Float](repeating: 0, count: n * n * 3)
        drawBackground(into: &pixels, size: n, rng: &rng)

        // Pose: the size attribute fixes the scale (±5%), the rest is random.
        let sizeValue = BirdSize(rawValue: attributes[.size])!
        let s = Float(sizeValue.frameFraction * birdScale * Double(n) / 1.3 * rng.uniform(0.95, 1.05))  // pixels per unit
        let facingRight = rng.uniform() < 0.5
        let angle = rng.uniformFloat(-0.26, 0.26)
        let model = BirdModel(attributes, rng: &rng, pixelsPerUnit: s)
        let flip: Float = facingRight ? 1 : -1

        // Local → pixel: P = centre + s·R(angle)·(flip·x, y). Place the centre so the
        // bird's extent fits inside the frame where possible.
        let corners = [model.extentMin, V2(model.extentMin.x, model.extentMax.y),
                       V2(model.extentMax.x, model.extentMin.y), model.extentMax]
            .map { rotate(V2(flip * $0.x, $0.y), angle) * s }
        let lo = corners.reduce(V2(repeating: .infinity)) { pointwiseMin($0, $1) }
        let hi = corners.reduce(V2(repeating: -.infinity)) { pointwiseMax($0, $1) }
        func place(_ lo: Float, _ hi: Float, _ u: Float) -> Float {
            let minC = -lo + 1, maxC = Float(n) - hi - 1
            return minC <= maxC ? minC + (maxC - minC) * u : (minC + maxC) / 2
        }
        let center = V2(place(lo.x, hi.x, rng.uniformFloat(0, 1)), place(lo.y, hi.y, rng.uniformFloat(0, 1)))
        let cosA = cosf(angle), sinA = sinf(angle)
        func toPixel(_ p: V2) -> V2 { center + rotate(V2(flip * p.x, p.y), angle) * s }

        var partMap = wantPartMap ? [UInt8](repeating: 0, count: n * n) : nil
        var partMask = [UInt8](repeating: 0, count: n * n)
        // Facing left shows the bird's left side: the mirror of each CUB part.
        let sideSwap: [Int8: Int8] = [6: 10, 10: 6, 8: 12, 12: 8, 7: 11, 11: 7]
        let shownPart: [UInt8] = (-1..<Int8(cubPartNames.count)).map { p in
            p < 0 ? 0 : UInt8((facingRight ? p : sideSwap[p] ?? p) + 1)
        }
        var boxLo = (Int.max, Int.max), boxHi = (Int.min, Int.min)
        let x0 = max(0, Int((center.x + lo.x).rounded(.down)) - 2), x1 = min(n, Int((center.x + hi.x).rounded(.up)) + 2)
        let y0 = max(0, Int((center.y + lo.y).rounded(.down)) - 2), y1 = min(n, Int((center.y + hi.y).rounded(.up)) + 2)
        let invS = 1 / s
        model.layers.withUnsafeBufferPointer { layers in
            for py in y0..<max(y0, y1) {
                for px in x0..<max(x0, x1) {
                    // Pixel centre → local frame (inverse rotation, unflip, unscale).
                    let d = V2(Float(px) + 0.5, Float(py) + 0.5) - center
                    let r = V2(cosA * d.x + sinA * d.y, -sinA * d.x + cosA * d.y) * invS
                    let p = V2(flip * r.x, r.y)
                    let i = (py * n + px) * 3
                    var c = RGB(pixels[i], pixels[i + 1], pixels[i + 2])
                    // Owner: the topmost layer covering ≥ ½, with the share of the final colour
                    // it still contributes after the layers drawn over it.
                    var top = RenderedPart.background
                    var topCub: Int8 = -1
                    var topShare: Float = 1
                    var birdCover: Float = 0
                    for layer in layers {
                        let q = p - layer.boundCenter
                        if dot(q, q) > layer.boundRadiusSquared { continue }
                        let alpha = clamp01(0.5 - layer.shape.distance(p) * s)
                        if alpha <= 0 { continue }
                        c += (layer.paint.color(at: p, pixelsPerUnit: s) - c) * alpha
                        if alpha >= 0.5 { top = layer.part; topCub = layer.cubPart; topShare = alpha } else { topShare *= 1 - alpha }
                        if layer.part != .perch { birdCover += (1 - birdCover) * alpha }
                    }
                    pixels[i] = c.x; pixels[i + 1] = c.y; pixels[i + 2] = c.z
                    if birdCover >= 0.5 {
                        boxLo = (min(boxLo.0, px), min(boxLo.1, py))
                        boxHi = (max(boxHi.0, px), max(boxHi.1, py))
                    }
                    partMap?[py * n + px] = topShare >= 0.9 ? top.rawValue : RenderedPart.edge.rawValue
                    partMask[py * n + px] = shownPart[Int(topCub) + 1]
                }
            }
        }

        // Sensor noise, then quantise.
        var bytes = [UInt8](repeating: 0, count: n * n * 3)
        for i in 0..<bytes.count {
            let noise = Float(Int(rng.next() % 7) - 3)
            bytes[i] = UInt8(max(0, min(255, (pixels[i] + noise).rounded())))
        }

        let keypoints = model.keypoints.enumerated().map { index, local -> Keypoint in
            // Facing left shows the bird's left side: swap the left/right parts' visibility.
            var point = local
            if !facingRight {
                let mirror = [6: 10, 10: 6, 8: 12, 12: 8, 7: 11, 11: 7]
                if let other = mirror[index] { point = model.keypoints[other] }
            }
            guard let point else { return .invisible }
            let q = toPixel(point)
            guard q.x >= 0, q.y >= 0, q.x <= Float(n), q.y <= Float(n) else { return .invisible }
            return Keypoint(x: Double(q.x), y: Double(q.y), visible: true)
        }
        let box = boxLo.0 == Int.max ? Box(x: 0, y: 0, width: 0, height: 0)
            : Box(x: Double(boxLo.0), y: Double(boxLo.1), width: Double(boxHi.0 - boxLo.0 + 1), height: Double(boxHi.1 - boxLo.1 + 1))
        return RenderedBird(image: RGBImage(width: n, height: n, pixels: bytes), keypoints: keypoints, box: box, partMap: partMap,
                            partMask: partMask)
    }
}
