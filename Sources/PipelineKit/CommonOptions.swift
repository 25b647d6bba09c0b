import ArgumentParser
import Foundation

/// Options every stage shares: `@OptionGroup var common: CommonOptions`.
public struct CommonOptions: ParsableArguments {
    @Option(help: "Seed for every random choice; same inputs and seed give the same outputs.")
    public var seed: UInt64 = 0

    @Option(help: "Worker threads for the numeric kernels and BLAS (default: the number of cores).")
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print detailed progress and diagnostics to stderr.")
    public var verbose = false

    public init() {}

    public mutating func validate() throws {
        // The upper limit: each thread is a real one with its own scratch buffers.
        guard (1...1024).contains(threads) else { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
        Log.isVerbose = verbose
    }
}
