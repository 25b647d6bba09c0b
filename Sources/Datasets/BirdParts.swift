/// CUB-200-2011's 15 part names (parts/parts.txt), in CUB's order: the keypoints of every
/// rendered bird use them, so grounding code treats synthetic and real birds alike.

import Foundation
import Randomness
public let cubPartNames = ["back", "beak", "belly", "breast", "crown", "forehead", "left eye", "left leg",
                           "left wing", "nape", "right eye", "right leg", "right wing", "tail", "throat"]

/// The regions a rendered pixel can belong to (the renderer's optional part map).
public enum RenderedPart: UInt8, CaseIterable, Sendable {
    case background, perch, leg, tail, back, belly, breast, wing, nape, throat, crown, forehead, bill, eye
    /// A boundary pixel mixing several regions (part maps only).
    case edge = 255

    /// The CUB part (index into `cubPartNames`) this region shows in the bird's own frame,
    /// which faces +x and so shows its right side; nil for background, perch and edges.
    /// The far leg is `left leg` (see `Layer.cubPart`).
    public var cubPart: Int? {
        switch self {
        case .background, .perch, .edge: nil
        case .back: 0
        case .bill: 1
        case .belly: 2
        case .breast: 3
        case .crown: 4
        case .forehead: 5
        case .leg: 11
        case .wing: 12
        case .nape: 9
        case .eye: 10
        case .tail: 13
        case .throat: 14
        }
    }

    /// The colour group painting this region, if any.
    public var colorGroup: BirdGroup? {
        switch self {
        case .background, .perch, .edge: nil
        case .leg: .legColor
        case .tail: .upperTailColor
        case .back: .backColor
        case .belly: .bellyColor
        case .breast: .breastColor
        case .wing: .wingColor
        case .nape: .napeColor
        case .throat: .throatColor
        case .crown: .crownColor
        case .forehead: .foreheadColor
        case .bill: .billColor
        case .eye: .eyeColor
        }
    }
}

/// One drawable layer of a bird, in back-to-front order.
struct Layer {
    var shape: Shape
    var paint: Paint
    var part: RenderedPart
    /// CUB part index drawn (bird's own right-side view), −1 for none.
    var cubPart: Int8
    /// Bounding circle (local units), precomputed for culling.
    var boundCenter: V2
    var boundRadiusSquared: Float

    init(_ shape: Shape, _ paint: Paint, _ part: RenderedPart, margin: Float, cubPart: Int? = nil) {
        self.shape = shape
        self.paint = paint
        self.part = part
        self.cubPart = Int8(cubPart ?? part.cubPart ?? -1)
        let b = shape.bounds
        boundCenter = b.center
        boundRadiusSquared = (b.radius + margin) * (b.radius + margin)
    }
}

/// A bird in its local frame: facing +x, y pointing down, body centred at the origin and
/// about one unit long; layers to draw and the 15 CUB keypoints (nil where not defined
/// for this side).
struct BirdModel {
    var layers: [Layer] = []
    var keypoints: [V2?] = []
    /// Local-frame extent used to place the bird in the frame.
    var extentMin = V2(-0.85, -0.5)
    var extentMax = V2(0.8, 0.55)

    /// Builds the bird for `a`, with per-image variation (colour jitter, pattern phase,
    /// the second colour of multi-coloured parts) from `rng`. `pixelsPerUnit` sets the
    /// culling margin (one pixel).
    init(_ a: BirdAttributes, rng: inout SplitMix, pixelsPerUnit s: Float) {
        let margin = 1.5 / s
        let brightness = rng.uniformFloat(0.97, 1.03)
        func jittered(_ c: BirdColor) -> RGB {
            let j = RGB(rng.uniformFloat(-7, 7), rng.uniformFloat(-7, 7), rng.uniformFloat(-7, 7))
            return pointwiseMin(pointwiseMax(c.rgb * brightness + j, RGB(repeating: 0)), RGB(repeating: 255))
        }
        func paint(_ g: BirdGroup) -> Paint {
            let color = a.color(g)
            var p = Paint.solid(jittered(color))
            if color == .iridescent { p.sheen = RGB(-22, 32, -12) }
            return p
        }
        // Marks contrast with their base but cover at most ~20% of the part, and are chosen so
        // that the part's mean colour stays nearest its attribute's reference even at 1.5×
        // that share (margin for jitter and anti-aliased edges): that is what the pixel test
        // checks, and what makes "breast colour = red" true of the pixels.
        func keepsIdentity(_ base: BirdColor, _ baseRGB: RGB, _ mark: RGB, share: Float) -> Bool {
            BirdColor.nearest(to: baseRGB + (mark - baseRGB) * share) == base
        }
        func markColor(for color: BirdColor, _ base: RGB) -> RGB {
            let light = RGB(205, 200, 190)
            let candidates = [base * 0.55, base + (light - base) * 0.5, base * 0.7, base + (light - base) * 0.3]
            return candidates.first { keepsIdentity(color, base, $0, share: 0.3) } ?? base * 0.85
        }
        func patterned(_ g: BirdGroup, _ pattern: PlumagePattern, stripeAngle: Float, patch: (V2, Float)) -> Paint {
            var p = paint(g)
            switch pattern {
            case .solid:
                break
            case .spotted:
                p.mark = markColor(for: a.color(g), p.base)
                p.pattern = .spots(spacing: 0.105, radius: 0.026, seed: UInt32(truncatingIfNeeded: rng.next()))
            case .striped:
                p.mark = markColor(for: a.color(g), p.base)
                p.pattern = .stripes(spacing: 0.11, halfWidth: 0.011, angle: stripeAngle, phase: rng.uniformFloat(0, 1))
            case .multiColored:
                // A second, clearly different palette colour on a minor share of the part.
                let base = a.color(g)
                let others = BirdColor.allCases.filter {
                    $0 != base && $0 != .iridescent && distanceSquared($0.rgb, base.rgb) > 110 * 110
                        && keepsIdentity(base, p.base, $0.rgb, share: 0.22)
                }
                p.mark = others.isEmpty ? markColor(for: base, p.base) : jittered(others[Int(rng.next() % UInt64(others.count))])
                p.pattern = .patch(normal: patch.0, offset: patch.1)
            }
            return p
        }

        let head = V2(0.40, -0.25), headRadius: Float = 0.19
        let headShape = Shape.circle(center: head, radius: headRadius)
        let body = Shape.ellipse(center: .zero, radii: V2(0.42, 0.26), angle: -0.15)

        // Perch under the feet (clutter, not part of the bird), most of the time.
        if rng.uniform() < 0.7 {
            let y = rng.uniformFloat(0.47, 0.5)
            let tone = RGB(rng.uniformFloat(70, 120), rng.uniformFloat(55, 90), rng.uniformFloat(35, 60))
            layers.append(Layer(.capsule(V2(-1.6, y + rng.uniformFloat(-0.1, 0.1)), V2(1.6, y + rng.uniformFloat(-0.1, 0.1)),
                                         radius: rng.uniformFloat(0.025, 0.045)), .solid(tone), .perch, margin: margin))
        }
        // Legs (far one darker), drawn before the body so it covers their tops.
        let legPaint = paint(.legColor)
        var farLeg = legPaint
        farLeg.base *= 0.8
        let legs: [(V2, V2, Paint)] = [(V2(0.12, 0.2), V2(0.13, 0.48), farLeg), (V2(0.0, 0.2), V2(-0.01, 0.48), legPaint)]
        // The far leg is the bird's left leg, the near one its right (CUB parts 7 and 11).
        for ((top, foot, p), part) in zip(legs, [7, 11]) {
            layers.append(Layer(.capsule(top, foot, radius: 0.02), p, .leg, margin: margin, cubPart: part))
            layers.append(Layer(.capsule(foot + V2(-0.05, 0), foot + V2(0.07, 0), radius: 0.014), p, .leg, margin: margin, cubPart: part))
        }

        // Tail.
        let tailBase = V2(-0.33, -0.02), tailAngle: Float = 0.25
        let tailDir = V2(-cosf(tailAngle), sinf(tailAngle)), tailNormal = V2(-tailDir.y, tailDir.x)
        let tailLength: Float = 0.42
        let tailOutline = BirdModel.tailOutline(TailShape(rawValue: a[.tailShape])!, length: tailLength)
        layers.append(Layer(.polygon(tailOutline.map { tailBase + tailDir * $0.x + tailNormal * $0.y }),
                            paint(.upperTailColor), .tail, margin: margin))

        // Body: back colour overall, then belly and breast within it.
        layers.append(Layer(body, paint(.backColor), .back, margin: margin))
        layers.append(Layer(.intersection(.ellipse(center: V2(-0.1, 0.15), radii: V2(0.34, 0.17), angle: -0.15), body),
                            paint(.bellyColor), .belly, margin: margin))
        let breastPaint = patterned(.breastColor, PlumagePattern(rawValue: a[.breastPattern])!,
                                    stripeAngle: 0, patch: (V2(-0.6, 0.8), 0.19))
        layers.append(Layer(.intersection(.ellipse(center: V2(0.2, 0.07), radii: V2(0.24, 0.22), angle: 0), body),
                            breastPaint, .breast, margin: margin))
        // Wing: bars across it when striped, dark primaries (the rear end) when multi-coloured.
        let wingPaint = patterned(.wingColor, PlumagePattern(rawValue: a[.wingPattern])!,
                                  stripeAngle: 0.35, patch: (V2(-1, 0), 0.3))
        layers.append(Layer(.ellipse(center: V2(-0.1, -0.06), radii: V2(0.34, 0.14), angle: -0.05),
                            wingPaint, .wing, margin: margin))

        // Head: nape colour overall, then throat, crown and forehead caps, bill, eye.
        layers.append(Layer(headShape, paint(.napeColor), .nape, margin: margin))
        layers.append(Layer(.intersection(.ellipse(center: head + V2(0.06, 0.17), radii: V2(0.15, 0.11), angle: 0), headShape),
                            paint(.throatColor), .throat, margin: margin))
        layers.append(Layer(.intersection(.circle(center: head + V2(-0.02, -0.25), radius: 0.17), headShape),
                            paint(.crownColor), .crown, margin: margin))
        layers.append(Layer(.intersection(.circle(center: head + V2(0.19, -0.12), radius: 0.09), headShape),
                            paint(.foreheadColor), .forehead, margin: margin))
        let billBase = head + V2(0.15, 0.03)
        let bill = BirdModel.billOutline(BillShape(rawValue: a[.billShape])!, BillLength(rawValue: a[.billLength])!)
        layers.append(Layer(.polygon(bill.outline.map { billBase + $0 }), paint(.billColor), .bill, margin: margin))
        let eye = head + V2(0.075, -0.02)
        layers.append(Layer(.circle(center: eye, radius: 0.045), paint(.eyeColor), .eye, margin: margin))
        if a.color(.eyeColor) != .black {
            layers.append(Layer(.circle(center: eye, radius: 0.018), .solid(RGB(10, 10, 10)), .eye, margin: margin))
        }

        // Keypoints, in cubPartNames order; the bird faces +x, so its right side is shown.
        keypoints = [
            V2(-0.12, -0.2),                    // back
            billBase + bill.midpoint,           // beak
            V2(-0.12, 0.17),                    // belly
            V2(0.2, 0.08),                      // breast
            head + V2(-0.02, -0.14),            // crown
            head + V2(0.13, -0.12),             // forehead
            nil,                                // left eye: hidden
            V2(0.125, 0.4),                     // left leg (far)
            nil,                                // left wing: hidden
            head + V2(-0.13, 0.03),             // nape
            eye,                                // right eye
            V2(-0.005, 0.4),                    // right leg (near)
            V2(-0.1, -0.06),                    // right wing
            tailBase + tailDir * (tailLength * 0.6),  // tail
            head + V2(0.07, 0.15),              // throat
        ]
        extentMax.x = max(extentMax.x, billBase.x + bill.outline.map(\.x).max()!)
    }

    /// Tail outline in tail coordinates: x along the tail from its base, y across it.
    static func tailOutline(_ shape: TailShape, length L: Float) -> [V2] {
        let w0: Float = 0.07
        switch shape {
        case .squared:
            return [V2(0, -w0), V2(L, -0.09), V2(L, 0.09), V2(0, w0)]
        case .rounded:
            let r: Float = 0.095
            var arc: [V2] = []
            for i in 0...6 {
                let t = -Float.pi / 2 + Float.pi * Float(i) / 6
                arc.append(V2(L - r + r * cosf(t), r * sinf(t)))
            }
            return [V2(0, -w0)] + arc + [V2(0, w0)]
        case .pointed:
            return [V2(0, -w0), V2(L * 0.55, -0.075), V2(L * 1.15, 0), V2(L * 0.55, 0.075), V2(0, w0)]
        case .fanShaped:
            return [V2(0, -0.05), V2(L * 0.85, -0.16), V2(L, -0.09), V2(L * 1.04, 0), V2(L, 0.09), V2(L * 0.85, 0.16), V2(0, 0.05)]
        case .forked:
            return [V2(0, -w0), V2(L * 1.1, -0.11), V2(L * 0.55, 0), V2(L * 1.1, 0.11), V2(0, w0)]
        case .notched:
            return [V2(0, -w0), V2(L, -0.09), V2(L * 0.84, 0), V2(L, 0.09), V2(0, w0)]
        }
    }

    /// Bill outline relative to its base (starting a little inside the head), and the
    /// point halfway along it (the `beak` keypoint).
    static func billOutline(_ shape: BillShape, _ length: BillLength) -> (outline: [V2], midpoint: V2) {
        // The head is 0.38 across: bills shorter than, about as long as, or longer than it.
        let L: Float = switch length {
        case .shorter: 0.17
        case .aboutTheSame: 0.36
        case .longer: 0.58
        }
        let bend: (Float) -> Float
        let width: (Float) -> Float
        switch shape {
        case .cone:
            bend = { _ in 0 }; width = { 0.075 * (1 - $0) + 0.004 }
        case .allPurpose:
            bend = { 0.06 * L * $0 * $0 * $0 }; width = { 0.05 * powf(1 - $0, 0.9) + 0.004 }
        case .dagger:
            bend = { _ in 0 }; width = { 0.04 * (1 - $0) + 0.003 }
        case .needle:
            bend = { _ in 0 }; width = { 0.022 * powf(1 - $0, 0.6) + 0.003 }
        case .hooked:
            bend = { 0.25 * L * powf($0, 6) }; width = { 0.055 * (1 - $0) + 0.006 }
        case .curved:
            bend = { 0.3 * L * $0 * $0 }; width = { 0.033 * (1 - $0) + 0.004 }
        case .spatulate:
            bend = { _ in 0 }; width = { 0.042 + 0.022 * $0 }
        }
        let inset: Float = 0.03
        let outline = taperedPolygon(steps: 10, length: L + inset, bend: bend, halfWidth: width).map { $0 - V2(inset, 0) }
        return (outline, V2(L / 2, bend(0.5)))
    }
}

extension BirdGroup {
    /// The CUB parts (indices into `cubPartNames`) the renderer draws this group's value
    /// on: colour groups on the regions they paint, shapes and patterns on the part they
    /// shape; both sides of paired parts (which side shows depends on the pose). Size is
    /// the whole bird's scale: not localisable, so no part.
    public var cubParts: [Int] {
        let mirror = [6: 10, 10: 6, 8: 12, 12: 8, 7: 11, 11: 7]
        let painted = RenderedPart.allCases.filter { $0.colorGroup == self }.compactMap(\.cubPart)
        let shaped: [Int] = switch self {
        case .billShape, .billLength: [1]
        case .tailShape: [13]
        case .breastPattern: [3]
        case .wingPattern: [12]
        default: []
        }
        let own = painted + shaped
        return Array(Set(own + own.compactMap { mirror[$0] })).sorted()
    }

    /// Parts of every rendered attribute, in `attributeNames` order (the images.h5
    /// `attribute_parts` table of rendered sets).
    public static var attributeParts: [[Int]] {
        allCases.flatMap { g in [[Int]](repeating: g.cubParts, count: g.group.values.count) }
    }
}
