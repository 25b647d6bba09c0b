/// A dense Float32 tensor, row-major (PyTorch's contiguous layout), so an activation of
/// shape [N, C, H, W] is NCHW. Value semantics: `data` is a Swift array (copy on write).
///
/// Shape mistakes made by a caller with user data are reported with `TensorError`;
/// programmer errors inside the engine (a kernel handed an inconsistent buffer) trap.
public struct Tensor: Sendable, Equatable {
    /// Extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `data.count == shape.product`.
    public var data: [Float]

    /// Wraps `data` with `shape`; traps if the counts disagree (use `validated` for user input).
    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) holds \(shape.reduce(1, *)) elements, data has \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// Checks that `data` fits `shape`, throwing a named error if not.
    public static func validated(shape: [Int], data: [Float], name: String) throws -> Tensor {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == data.count else {
            throw TensorError.shapeMismatch("\(name): shape \(shape) does not fit \(data.count) elements")
        }
        return Tensor(shape: shape, data: data)
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor whose elements are written by `fill` (no zeroing first: hot paths use this).
    /// `fill` must write every element.
    public init(shape: [Int], fill: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        let count = shape.reduce(1, *)
        let data = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { try fill(buffer.baseAddress!) }
            initialized = count
        }
        self.shape = shape
        self.data = data
    }

    /// A tensor whose contents are undefined, for kernels that overwrite every element
    /// (skips zeroing memory that is about to be written anyway).
    public init(uninitializedShape shape: [Int]) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.data = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// Number of elements.
    @inlinable public var count: Int { data.count }

    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Read-only access to the elements.
    @inlinable
    public func withPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// Mutable access to the elements (copies first if the storage is shared).
    @inlinable
    public mutating func withMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }

    /// Largest absolute element-wise difference to `other` (same shape required).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "maxAbsDifference: \(shape) vs \(other.shape)")
        var worst: Float = 0
        for i in 0..<count { worst = max(worst, abs(data[i] - other.data[i])) }
        return worst
    }
}

/// Errors for bad input reaching the engine: wrong shapes, channels, parameters, files.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// An input's shape does not match what the layer or model expects.
    case shapeMismatch(String)
    /// An argument is out of its valid range.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let message): return "shape mismatch: \(message)"
        case .invalidArgument(let message): return "invalid argument: \(message)"
        }
    }
}

/// Runs `body` with a pointer to `tensor`'s elements, or nil when there is no tensor.
@inlinable
public func withOptionalPointer<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    if let tensor { return try tensor.withPointer { try body($0) } }
    return try body(nil)
}

/// Runs `body` with a mutable pointer to `tensor`'s elements, or nil when there is no tensor.
@inlinable
public func withOptionalMutablePointer<R>(_ tensor: inout Tensor?,
                                          _ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
    if tensor != nil { return try tensor!.withMutablePointer { try body($0) } }
    return try body(nil)
}
