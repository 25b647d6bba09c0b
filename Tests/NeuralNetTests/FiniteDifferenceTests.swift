import Randomness
import NeuralNet
import TestSupport
import XCTest

/// Central finite differences of L = Σ r·f(x) against each layer's analytic backward
/// (input and parameter gradients), on tiny shapes.
final class FiniteDifferenceTests: XCTestCase {
    var rng = SplitMix(seed: 42)

    func random(_ shape: [Int], scale: Float = 1, offset: Float = 0) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &rng) + offset })
    }

    /// Checks `analytic` against central differences of `loss` around `x` (step `h`).
    func check(_ label: String, _ x: Tensor, analytic: Tensor?, h: Float = 1e-2, tolerance: Float = 2e-2,
               file: StaticString = #filePath, line: UInt = #line, _ loss: (Tensor) throws -> Float) rethrows {
        guard let analytic else { XCTFail("\(label): no analytic gradient", file: file, line: line); return }
        XCTAssertEqual(analytic.shape, x.shape, label, file: file, line: line)
        var numeric = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var plus = x, minus = x
            plus.data[i] += h; minus.data[i] -= h
            numeric[i] = (try loss(plus) - loss(minus)) / (2 * h)
        }
        assertClose(analytic.data, numeric, tolerance: tolerance, label, file: file, line: line)
    }

    func dot(_ a: Tensor, _ b: Tensor) -> Float { zip(a.data, b.data).reduce(0) { $0 + $1.0 * $1.1 } }

    func testConv2d() throws {
        let x = random([2, 3, 5, 4]), r = random([2, 4, 3, 2])
        let conv = Conv2d(weight: random([4, 3, 3, 3]), bias: random([4]), stride: 2, padding: 1)
        let (_, cache) = try conv.forward(x)
        let g = conv.backward(r, cache: cache, parameterGradients: true)
        try check("conv dx", x, analytic: g.input) { dot(try conv.forward($0).output, r) }
        try check("conv dweight", conv.weight, analytic: g.weight) { w in
            dot(try Conv2d(weight: w, bias: conv.bias, stride: 2, padding: 1).forward(x).output, r)
        }
        try check("conv dbias", conv.bias!, analytic: g.bias) { b in
            dot(try Conv2d(weight: conv.weight, bias: b, stride: 2, padding: 1).forward(x).output, r)
        }
    }

    func testBatchNorm() throws {
        for mode in Mode.allCases {
            let x = random([3, 2, 3, 3], scale: 2, offset: 0.5), r = random([3, 2, 3, 3])
            var bn = BatchNorm2d(channels: 2)
            bn.weight = random([2], scale: 0.3, offset: 1); bn.bias = random([2])
            bn.runningMean = random([2]); bn.runningVar = random([2], scale: 0.2, offset: 1)
            let frozen = bn
            var scratch = bn
            let (_, cache) = try scratch.forward(x, mode: mode)
            let g = bn.backward(r, cache: cache, parameterGradients: true)
            func out(_ layer: BatchNorm2d, _ input: Tensor) throws -> Float { var l = layer; return dot(try l.forward(input, mode: mode).output, r) }
            try check("bn \(mode) dx", x, analytic: g.input, h: 1e-2) { try out(frozen, $0) }
            try check("bn \(mode) dgamma", bn.weight, analytic: g.weight) { w in var l = frozen; l.weight = w; return try out(l, x) }
            try check("bn \(mode) dbeta", bn.bias, analytic: g.bias) { b in var l = frozen; l.bias = b; return try out(l, x) }
        }
    }

    func testPoolingLinearLossNormalize() throws {
        // Max pool: distinct, well-separated values so no window changes its maximum under the step.
        let pooled = Tensor(shape: [1, 2, 5, 5], data: (0..<50).map { Float($0) * 0.1 }.shuffled(using: &rng))
        let pool = MaxPool2d(kernel: 3, stride: 2, padding: 1)
        let rp = random([1, 2, 3, 3])
        let (_, pc) = try pool.forward(pooled)
        try check("maxpool dx", pooled, analytic: pool.backward(rp, cache: pc), h: 1e-2) { dot(try pool.forward($0).output, rp) }

        let xa = random([2, 3, 2, 3]), ra = random([2, 3])
        try check("avgpool dx", xa, analytic: GlobalAvgPool.backward(ra, inputShape: xa.shape)) { dot(try GlobalAvgPool.forward($0), ra) }

        let linear = Linear(weight: random([4, 5]), bias: random([4]))
        let xl = random([3, 5]), rl = random([3, 4])
        let gl = linear.backward(rl, input: xl, parameterGradients: true)
        try check("linear dx", xl, analytic: gl.input) { dot(try linear.forward($0), rl) }
        try check("linear dweight", linear.weight, analytic: gl.weight) { dot(try Linear(weight: $0, bias: linear.bias).forward(xl), rl) }
        try check("linear dbias", linear.bias, analytic: gl.bias) { dot(try Linear(weight: linear.weight, bias: $0).forward(xl), rl) }

        let logits = random([4, 5], scale: 3), labels = [0, 4, 2, 2]
        try check("cross-entropy dlogits", logits, analytic: try CrossEntropy.lossAndGradient(logits: logits, labels: labels).gradient,
                  h: 1e-2, tolerance: 1e-2) { try CrossEntropy.loss(logits: $0, labels: labels) }

        let norm = try Normalize(mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.25])
        let xn = random([2, 3, 2, 2]), rn = random([2, 3, 2, 2])
        try check("normalize dx", xn, analytic: norm.backward(rn)) { dot(try norm.forward($0), rn) }

        // ReLU away from its kink.
        let xr = Tensor(shape: [10], data: (0..<10).map { Float($0) - 4.5 }), rr = random([10])
        try check("relu dx", xr, analytic: ReLU.backward(rr, output: ReLU.forward(xr))) { dot(ReLU.forward($0), rr) }
    }

    func testConvBNUnit() throws {
        for mode in Mode.allCases {
            let conv = Conv2d(weight: random([3, 2, 3, 3]), stride: 1, padding: 1)
            var bn = BatchNorm2d(channels: 3)
            bn.weight = random([3], scale: 0.3, offset: 1); bn.bias = random([3], scale: 0.2)
            bn.runningVar = random([3], scale: 0.2, offset: 1)
            let unit = ConvBN(conv: conv, bn: bn)
            let x = random([2, 2, 4, 4]), r = random([2, 3, 4, 4])
            var residual = random([2, 3, 4, 4])
            // Keep every pre-activation at least 0.1 away from the ReLU's kink, so the
            // finite differences never straddle it.
            var probe = unit
            let pre = try probe.forward(x, mode: mode, residual: residual, relu: false).output
            for i in 0..<pre.count where abs(pre.data[i]) < 0.1 { residual.data[i] += pre.data[i] >= 0 ? 0.2 : -0.2 }
            func out(_ u: ConvBN, _ input: Tensor, _ res: Tensor) throws -> Float {
                var copy = u
                return dot(try copy.forward(input, mode: mode, residual: res, relu: true).output, r)
            }
            var scratch = unit
            let (_, cache) = try scratch.forward(x, mode: mode, residual: residual, relu: true)
            let g = unit.backward(r, cache: cache, parameterGradients: true)
            // Small steps: ReLU kinks make larger ones unreliable.
            try check("ConvBN \(mode) dx", x, analytic: g.input, h: 2e-3, tolerance: 3e-2) { try out(unit, $0, residual) }
            try check("ConvBN \(mode) dresidual", residual, analytic: g.residual, h: 2e-3, tolerance: 3e-2) { try out(unit, x, $0) }
            try check("ConvBN \(mode) dweight", conv.weight, analytic: g.convWeight, h: 2e-3, tolerance: 3e-2) { w in
                var u = unit; u.conv.weight = w; return try out(u, x, residual)
            }
            try check("ConvBN \(mode) dgamma", bn.weight, analytic: g.bnWeight, h: 2e-3, tolerance: 3e-2) { w in
                var u = unit; u.bn.weight = w; return try out(u, x, residual)
            }
            try check("ConvBN \(mode) dbeta", bn.bias, analytic: g.bnBias, h: 2e-3, tolerance: 3e-2) { b in
                var u = unit; u.bn.bias = b; return try out(u, x, residual)
            }
            // Without parameter gradients the input gradient is the same.
            let inputOnly = unit.backward(r, cache: cache, parameterGradients: false)
            XCTAssertNil(inputOnly.convWeight)
            assertClose(inputOnly.input!.data, g.input!.data, tolerance: 1e-5, "ConvBN \(mode) dx without parameter gradients")
        }
    }

    func testWholeNetworkInputGradient() throws {
        // A tiny torchvision-layout bottleneck network: the loss gradient w.r.t. the image.
        let config = try ResNetConfig(family: .torchvision, block: .bottleneck, blocks: [1, 1, 1, 1], width: 2, numClasses: 3, inputSize: 16)
        let model = ResNet(config: config, seed: 3)
        let x = random([2, 3, 16, 16], scale: 0.5, offset: 0.5), labels = [1, 2]
        let (_, dx, _) = try model.lossAndInputGradient(x, labels: labels)
        // Directional derivative along a random direction (a full FD sweep would be slow).
        let direction = random(x.shape)
        let h: Float = 1e-3
        var plus = x, minus = x
        for i in 0..<x.count { plus.data[i] += h * direction.data[i]; minus.data[i] -= h * direction.data[i] }
        let numeric = (try CrossEntropy.loss(logits: try model.logits(plus), labels: labels)
                       - CrossEntropy.loss(logits: try model.logits(minus), labels: labels)) / (2 * h)
        XCTAssertEqual(dot(dx, direction), numeric, accuracy: 2e-2 * max(1, abs(numeric)))
    }
}
