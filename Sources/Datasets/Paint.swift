// How a bird part is coloured: a base colour, an optional iridescent sheen, and an
// optional pattern of marks in a second colour, all anti-aliased like the shapes.

import Foundation

typealias RGB = SIMD3<Float>

/// Marks drawn over a part's base colour.
enum PatternKind {
    case none
    /// Round dots on a jittered grid.
    case spots(spacing: Float, radius: Float, seed: UInt32)
    /// Parallel stripes; `angle` is the stripes' normal direction in radians.
    case stripes(spacing: Float, halfWidth: Float, angle: Float, phase: Float)
    /// Everything beyond a line: points p with dot(p, normal) > offset.
    case patch(normal: V2, offset: Float)
}

/// The colour of a part at each point.
struct Paint {
    var base: RGB
    /// Amplitude of the iridescent sheen (zero for ordinary colours); oscillates around
    /// `base`, so the part's mean colour stays the reference.
    var sheen: RGB = .zero
    var mark: RGB = .zero
    var pattern: PatternKind = .none

    static func solid(_ c: RGB) -> Paint { Paint(base: c) }

    /// Colour at local point p, with `pixelsPerUnit` for anti-aliasing the marks.
    @inline(__always)
    func color(at p: V2, pixelsPerUnit s: Float) -> RGB {
        var c = base
        if sheen != .zero { c += sheen * sinf(7 * (p.x - p.y) + 1.3) }
        let cov: Float
        switch pattern {
        case .none:
            return c
        case let .spots(spacing, radius, seed):
            let cell = (p / spacing).rounded(.down)
            let (jx, jy) = hash2(Int32(cell.x), Int32(cell.y), seed)
            let jitter = spacing / 2 - radius
            let center = (cell + 0.5) * spacing + V2(jx, jy) * jitter
            let sharp = clamp01(0.5 - (length(p - center) - radius) * s)
            cov = bandLimited(sharp, mean: .pi * radius * radius / (spacing * spacing), pixelsPerPeriod: spacing * s)
        case let .stripes(spacing, halfWidth, angle, phase):
            let u = (p.x * cosf(angle) + p.y * sinf(angle)) / spacing + phase
            let f = abs(u - u.rounded(.down) - 0.5) * spacing
            let sharp = clamp01(0.5 - (f - halfWidth) * s)
            cov = bandLimited(sharp, mean: 2 * halfWidth / spacing, pixelsPerPeriod: spacing * s)
        case let .patch(normal, offset):
            cov = clamp01(0.5 + (dot(p, normal) - offset) * s)
        }
        return c + (mark - c) * cov
    }
}

/// Anti-aliasing for repeating marks: point-sampling a pattern whose period is near the
/// pixel size aliases (a few pixels land all on marks or all between them), so below 4
/// pixels per period the coverage fades to the pattern's mean, and below 2 it is the mean:
/// the pattern then shows as the blend a camera would record.
@inline(__always)
func bandLimited(_ sharp: Float, mean: Float, pixelsPerPeriod: Float) -> Float {
    let t = clamp01((pixelsPerPeriod - 2) / 2)
    let w = t * t * (3 - 2 * t)
    return mean + (sharp - mean) * w
}

/// Two values in [-1, 1] from a cell and a seed (integer hash, so patterns are
/// reproducible and independent of evaluation order).
@inline(__always)
func hash2(_ x: Int32, _ y: Int32, _ seed: UInt32) -> (Float, Float) {
    var h = UInt32(bitPattern: x) &* 0x8DA6_B343 ^ UInt32(bitPattern: y) &* 0xD816_3841 ^ seed &* 0xCB1A_B31F
    h ^= h >> 13
    h = h &* 0x5BD1_E995
    h ^= h >> 15
    let a = Float(h & 0xFFFF) / 32767.5 - 1
    let b = Float(h >> 16) / 32767.5 - 1
    return (a, b)
}
