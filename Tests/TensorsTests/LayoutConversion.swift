import Tensors

/// `x` (N, C, plane) as channels last (N, plane, C), for the tests' NCHW references.
func toNHWC(_ x: [Float], _ n: Int, _ c: Int, _ plane: Int) -> [Float] {
    Tensor(shape: [n, c, plane, 1], data: x).channelsLast().data
}

/// `x` (N, plane, C) back to channels first (N, C, plane).
func toNCHW(_ x: [Float], _ n: Int, _ c: Int, _ plane: Int) -> [Float] {
    Tensor(shape: [n, plane, 1, c], data: x).channelsFirst().data
}
