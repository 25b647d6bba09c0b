import Foundation

/// Wall time per layer operation, for engine-bench's `--profile` table: where a forward or
/// backward pass spends its time, and at what GFLOP/s each convolution shape runs.
///
/// Off by default; when off, `measure` costs one branch. The layers call `measure` from the
/// thread that runs the pass (the kernels parallelise inside), so entries nest only if a
/// layer calls another measured layer, which none does.
public enum KernelProfile {
    /// Set once, before the passes to profile run (engine-bench --profile).
    nonisolated(unsafe) public static var isEnabled = false

    /// One row of the table: an operation and the shape it ran on.
    public struct Entry: Sendable {
        public let name: String
        public var calls = 0
        public var seconds = 0.0
        /// Floating-point operations per call (multiply and add counted separately), 0 when not counted.
        public var flops = 0.0
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var entries: [String: Entry] = [:]
    nonisolated(unsafe) private static var order: [String] = []

    /// Runs `body`, adding its wall time to the entry `name()` (evaluated only when enabled).
    @inline(__always)
    public static func measure<T>(_ name: @autoclosure () -> String, flops: @autoclosure () -> Double = 0,
                                  _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        record(name(), seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, flops: flops())
        return result
    }

    static func record(_ name: String, seconds: Double, flops: Double) {
        lock.lock()
        defer { lock.unlock() }
        if entries[name] == nil {
            entries[name] = Entry(name: name)
            order.append(name)
        }
        entries[name]!.calls += 1
        entries[name]!.seconds += seconds
        entries[name]!.flops = flops
    }

    /// The entries in first-seen order.
    public static func snapshot() -> [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return order.compactMap { entries[$0] }
    }

    /// Forgets every entry (between workloads or phases).
    public static func reset() {
        lock.lock()
        defer { lock.unlock() }
        entries = [:]
        order = []
    }
}

extension ConvGeometry {
    /// "3×3/2 16→32 32×32": kernel, stride, channels and input size, for profile tables.
    public var profileLabel: String {
        "\(kernelH)×\(kernelW)/\(stride) \(inChannels)→\(outChannels) \(height)×\(width)"
    }
    /// 2·MACs: the floating-point operations of one forward convolution.
    public var flops: Double { 2 * Double(macs) }
}
