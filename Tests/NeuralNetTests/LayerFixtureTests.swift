import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// Every case of layers.h5 (PyTorch 2.15 reference): forward, dx, dweight, dbias,
/// batch-norm running statistics and two SGD steps, within 1e-4.
final class LayerFixtureTests: XCTestCase {
    var file: H5File!

    override func setUpWithError() throws { file = try EngineFixtures.open("layers.h5") }
    override func tearDown() { file?.close() }

    func testConvolutions() throws {
        let cases = try file.childNames("conv")
        XCTAssertEqual(cases.count, 7)
        for threads in [1, 2] {
            Engine.configure(threads: threads)
            for name in cases {
                let g = "conv/\(name)"
                let hasBias = try file.intAttribute("has_bias", of: g) == 1
                let conv = Conv2d(weight: try file.tensor("\(g)/weight"), bias: hasBias ? try file.tensor("\(g)/bias") : nil,
                                  stride: try file.intAttribute("stride", of: g), padding: try file.intAttribute("padding", of: g))
                let (y, cache) = try conv.forward(try file.tensor("\(g)/x"))
                assertTensorClose(y, try file.tensor("\(g)/y"), "\(name) y")
                let grads = conv.backward(try file.tensor("\(g)/dy"), cache: cache, parameterGradients: true)
                assertTensorClose(grads.input, try file.tensor("\(g)/dx"), "\(name) dx")
                assertTensorClose(grads.weight, try file.tensor("\(g)/dweight"), "\(name) dweight")
                if hasBias { assertTensorClose(grads.bias, try file.tensor("\(g)/dbias"), "\(name) dbias") }
                else { XCTAssertNil(grads.bias) }
                // Without parameter gradients: same dx, no parameter gradients.
                let dxOnly = conv.backward(try file.tensor("\(g)/dy"), cache: cache, parameterGradients: false)
                XCTAssertNil(dxOnly.weight)
                XCTAssertEqual(dxOnly.input.data, grads.input.data, "\(name): dx must not depend on parameterGradients")
            }
        }
        Engine.configure(threads: 2)
    }

    func testBatchNormTraining() throws {
        for name in ["train_a", "train_b"] {
            let g = "batchnorm/\(name)"
            var bn = BatchNorm2d(channels: try file.shape("\(g)/weight")[0])
            bn.weight = try file.tensor("\(g)/weight"); bn.bias = try file.tensor("\(g)/bias")
            bn.runningMean = try file.tensor("\(g)/running_mean_in"); bn.runningVar = try file.tensor("\(g)/running_var_in")
            bn.eps = try file.floatAttribute("eps", of: g); bn.momentum = try file.floatAttribute("momentum", of: g)
            let (y, cache) = try bn.forward(try file.tensor("\(g)/x"), mode: .train)
            assertTensorClose(y, try file.tensor("\(g)/y"), "\(name) y")
            assertTensorClose(bn.runningMean, try file.tensor("\(g)/running_mean_out"), "\(name) running_mean")
            assertTensorClose(bn.runningVar, try file.tensor("\(g)/running_var_out"), "\(name) running_var (unbiased)")
            XCTAssertEqual(bn.numBatchesTracked, 1)
            let grads = bn.backward(try file.tensor("\(g)/dy"), cache: cache, parameterGradients: true)
            assertTensorClose(grads.input, try file.tensor("\(g)/dx"), "\(name) dx")
            assertTensorClose(grads.weight, try file.tensor("\(g)/dweight"), "\(name) dweight")
            assertTensorClose(grads.bias, try file.tensor("\(g)/dbias"), "\(name) dbias")
        }
    }

    func testBatchNormEval() throws {
        let g = "batchnorm/eval"
        var bn = BatchNorm2d(channels: 6)
        bn.weight = try file.tensor("\(g)/weight"); bn.bias = try file.tensor("\(g)/bias")
        bn.runningMean = try file.tensor("\(g)/running_mean"); bn.runningVar = try file.tensor("\(g)/running_var")
        let before = (bn.runningMean, bn.runningVar)
        let (y, cache) = try bn.forward(try file.tensor("\(g)/x"), mode: .eval)
        assertTensorClose(y, try file.tensor("\(g)/y"), "eval y")
        XCTAssertEqual(bn.runningMean, before.0, "eval mode must not touch the running statistics")
        XCTAssertEqual(bn.runningVar, before.1)
        let grads = bn.backward(try file.tensor("\(g)/dy"), cache: cache, parameterGradients: true)
        assertTensorClose(grads.input, try file.tensor("\(g)/dx"), "eval dx")
        assertTensorClose(grads.weight, try file.tensor("\(g)/dweight"), "eval dweight")
        assertTensorClose(grads.bias, try file.tensor("\(g)/dbias"), "eval dbias")
    }

    func testMaxPool() throws {
        let g = "maxpool/k3s2p1"
        let pool = MaxPool2d(kernel: try file.intAttribute("kernel", of: g), stride: try file.intAttribute("stride", of: g),
                             padding: try file.intAttribute("padding", of: g))
        let (y, cache) = try pool.forward(try file.tensor("\(g)/x"))
        assertTensorClose(y, try file.tensor("\(g)/y"), "maxpool y")
        assertTensorClose(pool.backward(try file.tensor("\(g)/dy"), cache: cache), try file.tensor("\(g)/dx"), "maxpool dx")
    }

    func testGlobalAveragePool() throws {
        let g = "avgpool/global"
        let x = try file.tensor("\(g)/x")
        assertTensorClose(try GlobalAvgPool.forward(x), try file.tensor("\(g)/y"), "avgpool y")
        assertTensorClose(GlobalAvgPool.backward(try file.tensor("\(g)/dy"), inputShape: x.shape), try file.tensor("\(g)/dx"), "avgpool dx")
    }

    func testLinear() throws {
        let g = "linear/a"
        let linear = Linear(weight: try file.tensor("\(g)/weight"), bias: try file.tensor("\(g)/bias"))
        let x = try file.tensor("\(g)/x")
        assertTensorClose(try linear.forward(x), try file.tensor("\(g)/y"), "linear y")
        let grads = linear.backward(try file.tensor("\(g)/dy"), input: x, parameterGradients: true)
        assertTensorClose(grads.input, try file.tensor("\(g)/dx"), "linear dx")
        assertTensorClose(grads.weight, try file.tensor("\(g)/dweight"), "linear dweight")
        assertTensorClose(grads.bias, try file.tensor("\(g)/dbias"), "linear dbias")
    }

    func testCrossEntropy() throws {
        let g = "cross_entropy/a"
        let (loss, grad) = try CrossEntropy.lossAndGradient(logits: try file.tensor("\(g)/logits"), labels: try file.ints("\(g)/labels"))
        assertClose([loss], try file.tensor("\(g)/loss").data, "loss")
        assertTensorClose(grad, try file.tensor("\(g)/dlogits"), "dlogits")
    }

    func testSGDTwoSteps() throws {
        let g = "sgd/momentum"
        let sgd = try SGD(learningRate: try file.floatAttribute("lr", of: g), momentum: try file.floatAttribute("momentum", of: g),
                          weightDecay: try file.floatAttribute("weight_decay", of: g))
        var p = try file.tensor("\(g)/param_in").data
        let grads = try file.tensor("\(g)/grads")
        for step in 0..<2 {
            sgd.update(&p, gradient: Array(grads.data[step * 10..<(step + 1) * 10]), key: "p")
        }
        assertClose(p, try file.tensor("\(g)/param_out").data, "SGD after two steps")
    }
}
