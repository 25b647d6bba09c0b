// Varied natural-looking backgrounds: a two-colour gradient, low-frequency value noise,
// and a few soft out-of-focus blobs (foliage, sky patches), so that a classifier cannot
// rely on a plain backdrop and attributes must be read off the bird.

import Foundation
import Randomness

/// Background colour schemes: pairs of end colours for the gradient, as in bird photos.
private let backgroundSchemes: [(RGB, RGB)] = [
    (RGB(150, 190, 230), RGB(215, 230, 245)),  // sky
    (RGB(70, 110, 60), RGB(140, 170, 100)),    // foliage
    (RGB(120, 100, 75), RGB(190, 170, 135)),   // bark and ground
    (RGB(150, 155, 160), RGB(205, 205, 200)),  // overcast
    (RGB(60, 90, 95), RGB(120, 160, 150)),     // water
    (RGB(170, 150, 110), RGB(225, 210, 170)),  // reeds, sand
]

/// Fills `pixels` (size × size × 3, Float 0–255) with a random background.
func drawBackground(into pixels: inout [Float], size: Int, rng: inout SplitMix) {
    let (a0, b0) = backgroundSchemes[Int(rng.next() % UInt64(backgroundSchemes.count))]
    let shift = RGB(rng.uniformFloat(-20, 20), rng.uniformFloat(-20, 20), rng.uniformFloat(-20, 20))
    let top = a0 + shift, bottom = b0 + shift
    let angle = rng.uniformFloat(0, 2 * .pi)
    let dir = V2(cosf(angle), sinf(angle))

    // Value noise: a 5×5 lattice of offsets, smoothly interpolated.
    let grid = 5
    var lattice = [Float](repeating: 0, count: grid * grid)
    for i in lattice.indices { lattice[i] = rng.uniformFloat(-22, 22) }

    // Soft blobs.
    struct Blob { var center: V2; var radii: V2; var color: RGB; var softness: Float }
    var blobs: [Blob] = []
    for _ in 0..<Int(rng.next() % 5 + 1) {
        let base = backgroundSchemes[Int(rng.next() % UInt64(backgroundSchemes.count))].0
        blobs.append(Blob(center: V2(rng.uniformFloat(0, 1), rng.uniformFloat(0, 1)),
                          radii: V2(rng.uniformFloat(0.05, 0.25), rng.uniformFloat(0.05, 0.2)),
                          color: base + RGB(rng.uniformFloat(-25, 25), rng.uniformFloat(-25, 25), rng.uniformFloat(-25, 25)),
                          softness: rng.uniformFloat(0.03, 0.1)))
    }

    let inv = 1 / Float(size)
    for y in 0..<size {
        for x in 0..<size {
            let p = V2((Float(x) + 0.5) * inv, (Float(y) + 0.5) * inv)
            let t = clamp01(0.5 + dot(p - 0.5, dir))
            var c = top + (bottom - top) * t
            // Smooth lattice interpolation.
            let gx = p.x * Float(grid - 1), gy = p.y * Float(grid - 1)
            let ix = min(Int(gx), grid - 2), iy = min(Int(gy), grid - 2)
            var fx = gx - Float(ix), fy = gy - Float(iy)
            fx = fx * fx * (3 - 2 * fx)
            fy = fy * fy * (3 - 2 * fy)
            let n00 = lattice[iy * grid + ix], n10 = lattice[iy * grid + ix + 1]
            let n01 = lattice[(iy + 1) * grid + ix], n11 = lattice[(iy + 1) * grid + ix + 1]
            let n = (n00 + (n10 - n00) * fx) + ((n01 + (n11 - n01) * fx) - (n00 + (n10 - n00) * fx)) * fy
            c += RGB(repeating: n)
            for blob in blobs {
                let q = (p - blob.center) / blob.radii
                let d = (length(q) - 1) * min(blob.radii.x, blob.radii.y)
                let alpha = clamp01(0.5 - d / blob.softness) * 0.7
                if alpha > 0 { c += (blob.color - c) * alpha }
            }
            let i = (y * size + x) * 3
            pixels[i] = c.x
            pixels[i + 1] = c.y
            pixels[i + 2] = c.z
        }
    }
}
