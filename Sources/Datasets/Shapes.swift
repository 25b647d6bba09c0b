// Signed-distance shapes for the bird renderer. Distances are in the bird's local units;
// the renderer turns them into anti-aliased coverage with the pixels-per-unit scale, so
// every edge is smooth at any image size without supersampling.

import Foundation

typealias V2 = SIMD2<Float>

@inline(__always) func length(_ v: V2) -> Float { (v * v).sum().squareRoot() }
@inline(__always) func dot(_ a: V2, _ b: V2) -> Float { (a * b).sum() }
@inline(__always) func clamp01(_ x: Float) -> Float { min(1, max(0, x)) }

/// A shape with an exact or conservative signed distance (negative inside).
indirect enum Shape {
    case circle(center: V2, radius: Float)
    /// An ellipse rotated by `angle` (radians) about its centre.
    case ellipse(center: V2, radii: V2, angle: Float)
    /// A segment with round caps (legs, perches).
    case capsule(V2, V2, radius: Float)
    /// A simple polygon (bills, tails), vertices in order.
    case polygon([V2])
    /// The part of the first shape inside the second (e.g. the breast within the body).
    case intersection(Shape, Shape)

    func distance(_ p: V2) -> Float {
        switch self {
        case let .circle(c, r):
            return length(p - c) - r
        case let .ellipse(c, r, angle):
            let d = p - c
            let cs = cosf(angle), sn = sinf(angle)
            let q = V2(cs * d.x + sn * d.y, -sn * d.x + cs * d.y)
            // Inigo Quilez's cheap ellipse bound: exact on the boundary, smooth near it.
            let k0 = length(q / r)
            let k1 = length(q / (r * r))
            return k1 > 0 ? k0 * (k0 - 1) / k1 : -min(r.x, r.y)
        case let .capsule(a, b, radius):
            let pa = p - a, ba = b - a
            let h = clamp01(dot(pa, ba) / max(dot(ba, ba), 1e-12))
            return length(pa - ba * h) - radius
        case let .polygon(v):
            return polygonDistance(p, v)
        case let .intersection(a, b):
            return max(a.distance(p), b.distance(p))
        }
    }

    /// A circle containing the shape, used to skip it quickly far from it.
    var bounds: (center: V2, radius: Float) {
        switch self {
        case let .circle(c, r): return (c, r)
        case let .ellipse(c, r, _): return (c, max(r.x, r.y))
        case let .capsule(a, b, r): return ((a + b) / 2, length(b - a) / 2 + r)
        case let .polygon(v):
            let lo = v.reduce(V2(repeating: .infinity)) { pointwiseMin($0, $1) }
            let hi = v.reduce(V2(repeating: -.infinity)) { pointwiseMax($0, $1) }
            return ((lo + hi) / 2, length(hi - lo) / 2)
        case let .intersection(a, b):
            let (ba, bb) = (a.bounds, b.bounds)
            return ba.radius <= bb.radius ? ba : bb
        }
    }
}

/// Signed distance to a polygon (Inigo Quilez's winding-number formulation).
func polygonDistance(_ p: V2, _ v: [V2]) -> Float {
    var d = dot(p - v[0], p - v[0])
    var s: Float = 1
    var j = v.count - 1
    for i in 0..<v.count {
        let e = v[j] - v[i]
        let w = p - v[i]
        let b = w - e * clamp01(dot(w, e) / max(dot(e, e), 1e-12))
        d = min(d, dot(b, b))
        let c0 = p.y >= v[i].y, c1 = p.y < v[j].y, c2 = e.x * w.y > e.y * w.x
        if (c0 && c1 && c2) || (!c0 && !c1 && !c2) { s = -s }
        j = i
    }
    return s * d.squareRoot()
}

/// Polygon around a centreline p(t) = (L·t, bend(t)), t ∈ [0, 1], with half-width w(t):
/// how bills and tails are built, so their outlines stay smooth when they curve.
func taperedPolygon(steps: Int, length span: Float, bend: (Float) -> Float, halfWidth: (Float) -> Float) -> [V2] {
    var upper: [V2] = [], lower: [V2] = []
    for i in 0...steps {
        let t = Float(i) / Float(steps)
        let c = V2(span * t, bend(t))
        // Normal from the centreline's slope, so a hooked tip stays as thick as a straight one.
        let dt: Float = 1e-3
        let t0 = max(0, t - dt), t1 = min(1, t + dt)
        let tangent = V2(span * (t1 - t0), bend(t1) - bend(t0))
        let dir = tangent / max(length(tangent), 1e-6)
        let n = V2(-dir.y, dir.x)
        let w = halfWidth(t)
        upper.append(c - n * w)
        lower.append(c + n * w)
    }
    return upper + lower.reversed()
}

/// Rotates v by angle (radians).
@inline(__always) func rotate(_ v: V2, _ angle: Float) -> V2 {
    let c = cosf(angle), s = sinf(angle)
    return V2(c * v.x - s * v.y, s * v.x + c * v.y)
}
