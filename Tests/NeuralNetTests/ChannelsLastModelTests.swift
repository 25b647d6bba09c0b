import Randomness
@testable import NeuralNet
import TestSupport
import XCTest

/// Eval-mode passes run channels last on oneDNN (`Engine.activationLayout`): the same logits,
/// features and input gradients as the NCHW pass, on every backend, for the CIFAR and the
/// torchvision (stem pool, projection shortcuts, bottlenecks) networks; and the folded weights
/// survive between passes (their kept copies depend on it).
final class ChannelsLastModelTests: XCTestCase {
    func images(_ n: Int, _ size: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix(seed: seed)
        return Tensor(shape: [n, 3, size, size], data: (0..<n * 3 * size * size).map { _ in Float.random(in: 0..<1, using: &rng) })
    }

    /// A model trained one step (batch norm is then not the identity).
    func model(_ config: ResNetConfig, size: Int) throws -> ResNet {
        let m = ResNet(config: config, seed: 4)
        try m.trainStep(images(4, size, seed: 5), labels: [0, 1, 2, 0], optimizer: try SGD(learningRate: 0.1))
        return m
    }

    func testChannelsLastPassesMatchNCHW() throws {
        let configs: [(ResNetConfig, Int)] = [
            (try .named("cifar-resnet8", numClasses: 3, width: 8, inputSize: 12), 12),
            (try .named("resnet18", numClasses: 3, width: 8, inputSize: 32), 32),
            (try ResNetConfig(family: .torchvision, block: .bottleneck, blocks: [1, 1, 1, 1], width: 4, numClasses: 3,
                              inputSize: 32, mean: ResNetConfig.imagenetMean, std: ResNetConfig.imagenetStd), 32),
        ]
        for backend in Engine.availableBackends {
            try Engine.withBackend(backend) {
                for (config, size) in configs {
                    let m = try model(config, size: size)
                    let x = images(5, size, seed: 6), labels = [0, 2, 1, 1, 0]
                    func pass(_ layout: ActivationLayout) throws -> (logits: [Float], features: [Float], loss: Float, dx: [Float]) {
                        try Engine.withActivationLayout(layout) {
                            let (logits, features) = try m.logitsAndFeatures(x)
                            let (loss, dx, attackLogits) = try m.lossAndInputGradient(x, labels: labels)
                            XCTAssertEqual(attackLogits, logits, "\(layout): the attack step's logits are the inference pass's")
                            XCTAssertEqual(dx.shape, x.shape)
                            return (logits.data, features.data, loss, dx.data)
                        }
                    }
                    let planar = try pass(.nchw), last = try pass(.nhwc)
                    let label = "\(backend.rawValue), \(config.name)"
                    assertClose(last.logits, planar.logits, tolerance: 1e-4, "\(label): logits")
                    assertClose(last.features, planar.features, tolerance: 1e-4, "\(label): features")
                    // Relative beyond 1e-4: after one step at learning rate 0.1 the loss can be in the
                    // hundreds (162 for ResNet-18), where fp32 sums in another order differ by 1.2e-4.
                    XCTAssertEqual(last.loss, planar.loss, accuracy: max(1e-4, 2e-6 * abs(planar.loss)), "\(label): loss")
                    let scale = planar.dx.map(abs).max() ?? 1
                    assertClose(last.dx.map { $0 / scale }, planar.dx.map { $0 / scale }, tolerance: 1e-4, "\(label): input gradient")
                }
            }
        }
    }

    /// Training steps channels last: the same loss, parameter gradients and running
    /// statistics as NCHW (two models from one seed), on every backend.
    func testChannelsLastTrainingMatchesNCHW() throws {
        let configs: [(ResNetConfig, Int)] = [
            (try .named("cifar-resnet8", numClasses: 3, width: 8, inputSize: 12), 12),
            (try .named("resnet18", numClasses: 3, width: 8, inputSize: 32), 32),
        ]
        for backend in Engine.availableBackends {
            try Engine.withBackend(backend) {
                for (config, size) in configs {
                    let x = images(6, size, seed: 9), labels = [0, 2, 1, 1, 0, 2]
                    func step(_ layout: ActivationLayout) throws -> (loss: Float, grads: Gradients, model: ResNet) {
                        let m = ResNet(config: config, seed: 11)
                        let (loss, _, grads) = try Engine.withActivationLayout(layout) { try m.lossAndGradients(x, labels: labels) }
                        return (loss, grads, m)
                    }
                    let planar = try step(.nchw), last = try step(.nhwc)
                    let label = "\(backend.rawValue), \(config.name)"
                    XCTAssertEqual(last.loss, planar.loss, accuracy: 1e-5, "\(label): loss")
                    XCTAssertEqual(Set(last.grads.tensors.keys), Set(planar.grads.tensors.keys))
                    for (key, g) in planar.grads.tensors {
                        let scale = max(1e-3, g.data.map(abs).max() ?? 1)
                        assertClose(last.grads[key]!.data.map { $0 / scale }, g.data.map { $0 / scale }, tolerance: 2e-4,
                                    "\(label): \(key)")
                    }
                    for u in planar.model.units.indices {
                        assertClose(last.model.units[u].bn.runningMean.data, planar.model.units[u].bn.runningMean.data,
                                    tolerance: 1e-5, "\(label): running mean \(u)")
                        assertClose(last.model.units[u].bn.runningVar.data, planar.model.units[u].bn.runningVar.data,
                                    tolerance: 1e-5, "\(label): running variance \(u)")
                    }
                }
            }
        }
    }

    /// A channels-last training unit in bf16 on oneDNN, whose batch norm writes the gradient
    /// in bf16 for the convolution and recomputes the ReLU mask from the conv output: the
    /// same bits as batch norm's fp32 gradient (mask read from the output) handed to the
    /// convolution in fp32, for units with and without ReLU and residual; in eval mode, the
    /// input gradient from ReLU's backward written in bf16, against the fp32 one converted.
    func testBF16UnitGradientsMatchTheFP32Route() throws {
        try inBF16OnOneDNN(seed: 21) { random in
            for (n, c, h, o, k, s, relu, residual) in [(4, 16, 8, 32, 3, 1, true, false), (2, 32, 8, 32, 1, 1, true, true),
                                                       (3, 16, 9, 16, 3, 2, false, false), (2, 24, 6, 40, 1, 1, true, false)] {
                var unit = ConvBN(conv: Conv2d(weight: random([o, c, k, k]), stride: s, padding: k / 2), bn: BatchNorm2d(channels: o))
                unit.bn.weight = random([o]); unit.bn.bias = random([o])
                let x = random([n, h, h, c])
                let g = try unit.conv.geometry(for: x, layout: .nhwc)
                XCTAssertTrue(ConvKernels.takesLowGradient(g, dx: true, dweight: true), "\(g) takes a bf16 gradient")
                let r = residual ? random([n, g.outHeight, g.outWidth, o]) : nil
                let (y, cache) = try unit.forward(x, mode: .train, residual: r, relu: relu, layout: .nhwc)
                let dy = random(y.shape)
                let grads = unit.backward(dy, cache: cache, parameterGradients: true)
                // The fp32 route: ReLU's mask read from the output, batch norm in fp32, oneDNN converting dz.
                let masked = relu && residual ? ReLU.backward(dy, output: y) : dy
                let bnGrads = BatchNorm2d.backward(masked, reluOutput: relu && !residual ? y : nil,
                                                   cache: BatchNorm2d.Cache(input: cache.preNorm!, mode: .train, mean: cache.mean,
                                                                            invstd: cache.invstd, layout: .nhwc),
                                                   gamma: unit.bn.weight.data, parameterGradients: true)
                var dx = Tensor(zeros: x.shape), dw = Tensor(zeros: unit.conv.weight.shape)
                bnGrads.input.withPointer { dz in x.withPointer { xp in unit.conv.weight.withPointer { wp in
                    dx.withMutablePointer { dxp in dw.withMutablePointer { dwp in
                        ConvKernels.backward(dy: dz, x: xp, weight: wp, geometry: g, keptInput: cache.lowInput, dx: dxp, dweight: dwp)
                    } }
                } } }
                let label = "\(g), relu \(relu), residual \(residual)"
                XCTAssertEqual(grads.input?.data, dx.data, "dx, \(label)")
                XCTAssertEqual(grads.convWeight?.data, dw.data, "dweight, \(label)")
                XCTAssertEqual(grads.bnWeight?.data, bnGrads.weight?.data, "dgamma, \(label)")
                XCTAssertEqual(grads.bnBias?.data, bnGrads.bias?.data, "dbeta, \(label)")
                // Eval mode, input gradient only (an attack step): ReLU's backward writes dy in bf16.
                let (yEval, evalCache) = try unit.evalForward(x, residual: r, relu: relu, layout: .nhwc)
                let evalGrads = unit.backward(dy, cache: evalCache, parameterGradients: false)
                let evalMasked = relu ? ReLU.backward(dy, output: yEval) : dy
                let folded = try XCTUnwrap(evalCache.folded)
                var dxEval = Tensor(zeros: x.shape)
                evalMasked.withPointer { dz in x.withPointer { xp in folded.weight.withUnsafeBufferPointer { wp in
                    dxEval.withMutablePointer { dxp in
                        ConvKernels.backward(dy: dz, x: xp, weight: wp.baseAddress!, weightsID: folded.id, geometry: g,
                                             dx: dxp, dweight: nil)
                    }
                } } }
                XCTAssertEqual(evalGrads.input?.data, dxEval.data, "eval dx, \(label)")
                XCTAssertEqual(evalGrads.residual?.data, residual ? evalMasked.data : nil, "eval residual gradient, \(label)")
            }
        }
    }

    /// In bf16 training a unit hands its output's bf16 copy to the next unit's convolution:
    /// the copy is the output rounded as oneDNN rounds, and the next unit's output and
    /// gradients are the bits it gets converting the output itself.
    func testBF16OutputCopyHandedToTheNextUnit() throws {
        try inBF16OnOneDNN(seed: 23) { random in
            var first = ConvBN(conv: Conv2d(weight: random([16, 8, 3, 3]), padding: 1), bn: BatchNorm2d(channels: 16))
            let second = ConvBN(conv: Conv2d(weight: random([32, 16, 3, 3]), stride: 2, padding: 1), bn: BatchNorm2d(channels: 32))
            let x = random([4, 8, 8, 8])
            let (y, c) = try first.forward(x, mode: .train, relu: true, layout: .nhwc, lowOutput: true)
            let low = try XCTUnwrap(c.lowOutput, "the unit made its output's bf16 copy")
            XCTAssertEqual((0..<low.count).map { low.bits[$0] }, y.data.map(BF16Copy.round))
            var (given, own) = (second, second)
            let (yGiven, cGiven) = try given.forward(y, mode: .train, relu: true, layout: .nhwc, lowInput: low)
            let (yOwn, cOwn) = try own.forward(y, mode: .train, relu: true, layout: .nhwc)
            XCTAssertTrue(cGiven.lowInput === low, "the next convolution kept the copy it was given")
            XCTAssertEqual(yGiven.data, yOwn.data)
            let dy = random(yOwn.shape)
            let (gGiven, gOwn) = (given.backward(dy, cache: cGiven, parameterGradients: true),
                                  own.backward(dy, cache: cOwn, parameterGradients: true))
            XCTAssertEqual(gGiven.input?.data, gOwn.input?.data)
            XCTAssertEqual(gGiven.convWeight?.data, gOwn.convWeight?.data)
            // In fp32 no copy is made.
            try Engine.setPrecision(.fp32)
            XCTAssertNil(try first.forward(x, mode: .train, relu: true, layout: .nhwc, lowOutput: true).cache.lowOutput)
        }
    }

    /// In eval mode in bf16 a unit inside a block writes its output only in bf16, which the
    /// next unit's convolution reads as is (a bottleneck's 1 × 1, 3 × 3 stride 2, 1 × 1 with
    /// residual): every output is the bits of the chain handing fp32 outputs on (the bf16 ones
    /// those outputs rounded), and so are the input gradients, whose ReLU masks are read from
    /// the bf16 outputs. In fp32 the request is not granted.
    func testBF16EvalOutputsHandedOnlyInBF16() throws {
        try inBF16OnOneDNN(seed: 25) { random in
            var units: [ConvBN] = []
            for (c, o, k, s) in [(32, 16, 1, 1), (16, 16, 3, 2), (16, 32, 1, 1)] {
                var unit = ConvBN(conv: Conv2d(weight: random([o, c, k, k]), stride: s, padding: k / 2), bn: BatchNorm2d(channels: o))
                unit.bn.weight = random([o]); unit.bn.bias = random([o]); unit.bn.runningMean = random([o])
                units.append(unit)
            }
            let x = random([4, 8, 8, 32]), residual = random([4, 4, 4, 32])
            var (low, plain) = (ConvBN.Activation.fp32(x), x)
            var (lowCaches, plainCaches) = ([ConvBN.Cache](), [ConvBN.Cache]())
            for (i, unit) in units.enumerated() {
                let last = i == units.count - 1
                let (a, c) = try unit.evalForward(low, residual: last ? residual : nil, relu: true, layout: .nhwc, lowOutput: !last)
                let (t, d) = try unit.evalForward(plain, residual: last ? residual : nil, relu: true, layout: .nhwc)
                switch a {
                case .bf16(let copy, let shape):
                    XCTAssertFalse(last, "the unit with a residual wrote bf16 only")
                    XCTAssertEqual(shape, t.shape)
                    XCTAssertEqual((0..<copy.count).map { copy.bits[$0] }, t.data.map(BF16Copy.round), "unit \(i)'s bf16 output")
                case .fp32(let y):
                    XCTAssertTrue(last, "unit \(i) wrote fp32")
                    XCTAssertEqual(y.data, t.data, "the block's output")
                }
                (low, plain) = (a, t)
                lowCaches.append(c); plainCaches.append(d)
            }
            var dLow = random(plain.shape), dPlain = dLow
            for i in units.indices.reversed() {
                let (gl, gp) = (units[i].backward(dLow, cache: lowCaches[i], parameterGradients: false),
                                units[i].backward(dPlain, cache: plainCaches[i], parameterGradients: false))
                XCTAssertEqual(gl.input?.data, gp.input?.data, "unit \(i)'s input gradient")
                XCTAssertEqual(gl.residual?.data, gp.residual?.data, "unit \(i)'s residual gradient")
                (dLow, dPlain) = (try XCTUnwrap(gl.input), try XCTUnwrap(gp.input))
            }
            try Engine.setPrecision(.fp32)
            if case .bf16 = try units[0].evalForward(.fp32(x), relu: true, layout: .nhwc, lowOutput: true).output {
                XCTFail("a bf16-only output in fp32 mode")
            }
        }
    }

    /// A bottleneck network and a basic-block one in bf16 on oneDNN: the units inside each
    /// block hand their outputs on in bf16 only (their caches hold no fp32 output), a unit
    /// whose output a block reads next keeps that block's bf16 copy of it for ReLU's mask
    /// (`ConvBN.Cache.keepMask`), and the logits, features, loss and attack input gradient are
    /// the bits of the passes that hand fp32 outputs on (`ResNet.innerOutputsInBF16` off).
    func testBF16InnerOutputsGiveTheFP32HandOversBits() throws {
        let configs: [(ResNetConfig, Int)] = [
            (try ResNetConfig(family: .torchvision, block: .bottleneck, blocks: [1, 1, 1, 1], width: 4, numClasses: 3,
                              inputSize: 32, mean: ResNetConfig.imagenetMean, std: ResNetConfig.imagenetStd), 32),
            (try .named("cifar-resnet8", numClasses: 3, width: 16, inputSize: 12), 12),
        ]
        for (config, size) in configs {
            let m = try model(config, size: size)
            let x = images(3, size, seed: 8), labels = [2, 0, 1]
            let fp32Logits = try m.logits(x).data
            try inBF16OnOneDNN(seed: 27) { _ in
                let (_, _, trace) = try m.run(x, mode: .eval, record: true, layout: .nhwc)
                for (b, caches) in try XCTUnwrap(trace).blocks.enumerated() {
                    let inner = caches.prefix(m.blocks[b].units.count - 1)
                    XCTAssertFalse(inner.isEmpty)
                    XCTAssertTrue(inner.allSatisfy { $0.output == nil && $0.lowOutput?.isFilled == true }, "\(config.name) block \(b)")
                    let last = caches[m.blocks[b].units.count - 1]
                    XCTAssertEqual(last.output == nil, b + 1 < m.blocks.count, "\(config.name) block \(b): the fp32 output kept")
                    XCTAssertEqual(last.lowOutput?.isFilled == true, b + 1 < m.blocks.count, "\(config.name) block \(b): the bf16 copy")
                }
                let stem = try XCTUnwrap(trace?.stem)
                XCTAssertEqual(stem.output == nil, m.stemPool == nil, "\(config.name): the stem's mask in bf16 without a stem pool")
                func pass() throws -> [[Float]] {
                    let (logits, features) = try m.logitsAndFeatures(x)
                    let (loss, dx, _) = try m.lossAndInputGradient(x, labels: labels)
                    return [logits.data, features.data, [loss], dx.data]
                }
                let low = try pass()
                ResNet.innerOutputsInBF16 = false
                defer { ResNet.innerOutputsInBF16 = true }
                let handedInFP32 = try pass()
                for (i, what) in ["logits", "features", "loss", "input gradient"].enumerated() {
                    XCTAssertEqual(low[i], handedInFP32[i], "\(config.name): \(what)")
                }
                XCTAssertNotEqual(low[0], fp32Logits, "\(config.name): bf16 gave fp32's exact logits")
            }
        }
    }

    /// Runs `body` on oneDNN in bf16 at 2 threads (skipped in a build without oneDNN), then
    /// back to fp32; `random` makes tensors of uniform values in [−1, 1] from `seed`.
    func inBF16OnOneDNN(seed: UInt64, _ body: (_ random: ([Int]) -> Tensor) throws -> Void) throws {
        guard Engine.availableBackends.contains(.onednn) else { throw XCTSkip("this build has no oneDNN") }
        Engine.configure(threads: 2)
        defer { try? Engine.setPrecision(.fp32) }
        var rng = SplitMix(seed: seed)
        try Engine.withBackend(.onednn) {
            try Engine.setPrecision(.bf16)
            try body { shape in Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) }) }
        }
    }

    /// An eval pass leaves the folded weights in place (a write to `units` would drop them,
    /// and with them the weights oneDNN keeps); a training step drops them.
    func testFoldedWeightsOutliveEvalPasses() throws {
        let m = try model(try .named("cifar-resnet8", numClasses: 3, width: 4, inputSize: 8), size: 8)
        let x = images(2, 8, seed: 7)
        _ = try m.logits(x)
        let ids = m.foldedCache?.map(\.id)
        XCTAssertNotNil(ids)
        _ = try m.logits(x)
        _ = try m.lossAndInputGradient(x, labels: [0, 1])
        XCTAssertEqual(m.foldedCache?.map(\.id), ids, "eval passes reuse the folded weights")
        try m.trainStep(images(4, 8, seed: 8), labels: [0, 1, 2, 0], optimizer: try SGD(learningRate: 0.1))
        _ = try m.logits(x)
        XCTAssertNotEqual(m.foldedCache?.map(\.id), ids, "a training step folds anew")
    }
}
