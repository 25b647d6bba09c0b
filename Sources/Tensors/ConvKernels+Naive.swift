extension ConvKernels {
    /// Direct-loop reference convolution (Double accumulation), the yardstick the fast
    /// kernels are tested against. Slow: tiny shapes only.
    public enum Naive {
        /// y (N, O, H', W') = conv(x (N, C, H, W), weight (O, C, kh, kw)) + bias (O).
        public static func forward(x: [Float], weight: [Float], bias: [Float]?, geometry g: ConvGeometry) -> [Float] {
            var y = [Float](repeating: 0, count: g.batch * g.outChannels * g.outPlane)
            for n in 0..<g.batch {
                for o in 0..<g.outChannels {
                    for oh in 0..<g.outHeight {
                        for ow in 0..<g.outWidth {
                            var acc = Double(bias?[o] ?? 0)
                            for c in 0..<g.inChannels {
                                for i in 0..<g.kernelH {
                                    for j in 0..<g.kernelW {
                                        let ih = oh * g.stride - g.padding + i, iw = ow * g.stride - g.padding + j
                                        guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
                                        acc += Double(x[((n * g.inChannels + c) * g.height + ih) * g.width + iw])
                                            * Double(weight[((o * g.inChannels + c) * g.kernelH + i) * g.kernelW + j])
                                    }
                                }
                            }
                            y[((n * g.outChannels + o) * g.outHeight + oh) * g.outWidth + ow] = Float(acc)
                        }
                    }
                }
            }
            return y
        }

        /// (dx (N, C, H, W), dweight (O, C, kh, kw)) for upstream gradient dy (N, O, H', W').
        public static func backward(dy: [Float], x: [Float], weight: [Float], geometry g: ConvGeometry)
            -> (dx: [Float], dweight: [Float]) {
            var dx = [Double](repeating: 0, count: x.count)
            var dw = [Double](repeating: 0, count: weight.count)
            for n in 0..<g.batch {
                for o in 0..<g.outChannels {
                    for oh in 0..<g.outHeight {
                        for ow in 0..<g.outWidth {
                            let d = Double(dy[((n * g.outChannels + o) * g.outHeight + oh) * g.outWidth + ow])
                            for c in 0..<g.inChannels {
                                for i in 0..<g.kernelH {
                                    for j in 0..<g.kernelW {
                                        let ih = oh * g.stride - g.padding + i, iw = ow * g.stride - g.padding + j
                                        guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
                                        let xi = ((n * g.inChannels + c) * g.height + ih) * g.width + iw
                                        let wi = ((o * g.inChannels + c) * g.kernelH + i) * g.kernelW + j
                                        dx[xi] += d * Double(weight[wi])
                                        dw[wi] += d * Double(x[xi])
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return (dx.map(Float.init), dw.map(Float.init))
        }
    }
}
