#if ONEDNN
import Foundation
import Randomness
import TestSupport
@testable import Tensors
import XCTest

/// oneDNN's Winograd convolutions (fp32, 3 × 3, stride 1, 32–128 channels: `Engine.winograd`)
/// against the direct-loop reference, forward (weights kept and not) and both gradients, on
/// channels-last maps as the networks run them; and that they ran at all.
final class WinogradTests: XCTestCase {
    /// (batch, C, H, W, O): 32 → 32 with enough pixels for training forwards (128 per input
    /// channel), 64 → 48 on a map not a multiple of the 4 × 4 output tiles, 128 → 128 at 4 × 4.
    static let cases: [(Int, Int, Int, Int, Int)] = [(4, 32, 32, 32, 32), (3, 64, 9, 7, 48), (2, 128, 4, 4, 128)]

    /// Every output must lie within this share of the sum of its products' sizes from the
    /// fp64 reference. Winograd's transforms add roundings of sums over 6 × 6 tiles to the
    /// direct algorithm's: measured on these cases (WINOGRAD_ERRORS=1 prints them) at most
    /// 8.7e-7 forward, 5.4e-7 dx, 1.7e-6 dW, against 3.1e-7 for the direct algorithm.
    static let relativeBound: Double = 1e-5

    override func setUp() {
        super.setUp()
        Engine.configure(threads: 2)
    }

    func testWinogradMatchesTheReferenceAndRuns() throws {
        try XCTSkipUnless(Engine.availableBackends.contains(.onednn), "no oneDNN in this build")
        var rng = SplitMix(seed: 7)
        try Engine.withBackend(.onednn) {
            try Engine.withActivationLayout(.nhwc) {
                try Engine.withWinograd(true) {
                    for (n, c, h, w, o) in Self.cases { try check(n, c, h, w, o, &rng, expectWinograd: true) }
                }
                // Off: the same results from the direct algorithm, and no Winograd run.
                try Engine.withWinograd(false) {
                    for (n, c, h, w, o) in Self.cases { try check(n, c, h, w, o, &rng, expectWinograd: false) }
                }
            }
        }
    }

    /// 16 channels (measured slower), stride 2 and 256 channels (kept weights too large) stay
    /// on the direct algorithm.
    func testShapesOutsideTheRuleRunDirect() throws {
        try XCTSkipUnless(Engine.availableBackends.contains(.onednn), "no oneDNN in this build")
        var rng = SplitMix(seed: 8)
        try Engine.withBackend(.onednn) {
            try Engine.withWinograd(true) {
                for (n, c, h, w, o, s) in [(8, 16, 16, 16, 16, 1), (2, 64, 16, 16, 64, 2), (2, 256, 8, 8, 256, 1)] {
                    let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o, kernelH: 3, kernelW: 3,
                                             stride: s, padding: 1, layout: .nhwc)
                    let before = OneDNN.winogradRuns
                    _ = forward(g, x: rng.floats(n * c * h * w), weight: rng.floats(o * c * 9), weightsID: ConvWeightsID.next())
                    XCTAssertEqual(OneDNN.winogradRuns, before, "\(g) ran Winograd's algorithm")
                }
            }
        }
    }

    private func check(_ n: Int, _ c: Int, _ h: Int, _ w: Int, _ o: Int, _ rng: inout SplitMix,
                       expectWinograd: Bool) throws {
        let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o, kernelH: 3, kernelW: 3,
                                 stride: 1, padding: 1, layout: .nhwc)
        let x = rng.floats(n * c * h * w), weight = rng.floats(o * c * 9), dy = rng.floats(n * o * h * w)
        let reference = Reference(g, x: x, weight: weight, dy: dy)
        for kept in [false, true] {
            let before = OneDNN.winogradRuns
            let y = forward(g, x: x, weight: weight, weightsID: kept ? ConvWeightsID.next() : 0)
            reference.assertClose(y, reference.y, bounds: reference.yBounds, "forward, weights kept \(kept), \(g)")
            // A training forward (weights not kept) needs 128 output pixels per input channel.
            let wanted = expectWinograd && (kept || n * h * w >= 128 * c)
            XCTAssertEqual(OneDNN.winogradRuns > before, wanted, "Winograd's forward ran, weights kept \(kept), \(g)")
        }
        // The eval units' epilogue (bias, residual summed into the output, ReLU), weights kept.
        let bias = rng.floats(o), residual = rng.floats(n * o * h * w)
        let before = OneDNN.winogradRuns
        var fused = residual
        _ = x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
            fused.withUnsafeMutableBufferPointer { yp in
                ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, weightsID: ConvWeightsID.next(), geometry: g,
                                    epilogue: ConvEpilogue(bias: bp.baseAddress!, residual: UnsafePointer(yp.baseAddress!), relu: true),
                                    y: yp.baseAddress!)
            }
        } } }
        let expected = reference.y.indices.map { max(0, reference.y[$0] + Double(bias[$0 % o]) + Double(residual[$0])) }
        let bounds = reference.yBounds.indices.map { reference.yBounds[$0] + abs(Double(bias[$0 % o])) + abs(Double(residual[$0])) }
        reference.assertClose(fused, expected, bounds: bounds, "forward with bias, residual and ReLU, \(g)")
        XCTAssertEqual(OneDNN.winogradRuns > before, expectWinograd, "Winograd's forward with an epilogue ran, \(g)")
        let beforeBackward = OneDNN.winogradRuns
        var dx = [Float](repeating: .nan, count: x.count), dweight = [Float](repeating: .nan, count: weight.count)
        dy.withUnsafeBufferPointer { d in x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in
            dx.withUnsafeMutableBufferPointer { dxp in dweight.withUnsafeMutableBufferPointer { dwp in
                ConvKernels.backward(dy: d.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                     dx: dxp.baseAddress!, dweight: dwp.baseAddress!)
            } }
        } } }
        XCTAssertEqual(OneDNN.winogradRuns - beforeBackward, expectWinograd ? 2 : 0, "Winograd's gradients ran, \(g)")
        reference.assertClose(dx, reference.dx, bounds: reference.dxBounds, "dx, \(g)")
        reference.assertClose(dweight, reference.dweight, bounds: reference.dweightBounds, "dweight, \(g)")
    }

    private func forward(_ g: ConvGeometry, x: [Float], weight: [Float], weightsID: UInt64) -> [Float] {
        var y = [Float](repeating: .nan, count: g.batch * g.outChannels * g.outPlane)
        _ = x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, weightsID: weightsID, geometry: g, y: yp.baseAddress!)
        } } }
        return y
    }

    /// The convolution in fp64 on channels-last maps, with each output's sum of |products|.
    private struct Reference {
        var y: [Double], yBounds: [Double], dx: [Double], dxBounds: [Double], dweight: [Double], dweightBounds: [Double]

        init(_ g: ConvGeometry, x: [Float], weight: [Float], dy: [Float]) {
            let (n, c, h, w, o) = (g.batch, g.inChannels, g.height, g.width, g.outChannels)
            y = .init(repeating: 0, count: n * h * w * o); yBounds = y
            dx = .init(repeating: 0, count: x.count); dxBounds = dx
            dweight = .init(repeating: 0, count: weight.count); dweightBounds = dweight
            for i in 0..<n { for r in 0..<h { for s in 0..<w { for oc in 0..<o {
                let out = ((i * h + r) * w + s) * o + oc
                for kr in 0..<3 { for ks in 0..<3 {
                    let (ir, isc) = (r + kr - 1, s + ks - 1)
                    guard ir >= 0, ir < h, isc >= 0, isc < w else { continue }
                    for ic in 0..<c {
                        let xi = ((i * h + ir) * w + isc) * c + ic, wi = ((oc * c + ic) * 3 + kr) * 3 + ks
                        let (xv, wv, dv) = (Double(x[xi]), Double(weight[wi]), Double(dy[out]))
                        y[out] += xv * wv; yBounds[out] += abs(xv * wv)
                        dx[xi] += dv * wv; dxBounds[xi] += abs(dv * wv)
                        dweight[wi] += dv * xv; dweightBounds[wi] += abs(dv * xv)
                    }
                } }
            } } } }
        }

        func assertClose(_ got: [Float], _ want: [Double], bounds: [Double], _ label: String) {
            var worst = 0.0
            for i in want.indices {
                let error = abs(Double(got[i]) - want[i]) / max(bounds[i], 1e-30)
                guard error <= WinogradTests.relativeBound else {
                    XCTFail("\(label): element \(i) is \(got[i]), expected \(want[i]) (error \(error) of Σ|products|)")
                    return
                }
                worst = max(worst, error)
            }
            if ProcessInfo.processInfo.environment["WINOGRAD_ERRORS"] != nil { print("\(label): worst \(worst)") }
        }
    }
}

extension SplitMix {
    /// `count` values uniform in [-1, 1].
    mutating func floats(_ count: Int) -> [Float] { (0..<count).map { _ in uniformFloat(-1, 1) } }
}
#endif
