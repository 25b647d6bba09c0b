import ArgumentParser
import NeuralNet

/// The number format of the convolutions, for the stages that run them (train, adv-train,
/// attack, extract-features, ground, train-detector): `@OptionGroup var engine: EngineOptions`, then
/// `try engine.configure(threads: common.threads)` in place of `Engine.configure`.
public struct EngineOptions: ParsableArguments {
    @Option(help: "Number format of the convolutions: fp32, or bf16 (inputs and weights rounded to bfloat16, fp32 accumulation; weights, batch norm and every other layer stay fp32). bf16 needs the oneDNN backend (docs/engine.md).")
    public var precision: Precision = .fp32

    public init() {}

    public func validate() throws {
        if precision == .bf16 && Engine.backend != .onednn {
            throw ValidationError("--precision bf16 needs the oneDNN backend; this run uses \(Engine.backend.rawValue) (docs/engine.md)")
        }
    }

    /// Sets the engine's threads and the convolutions' precision.
    public func configure(threads: Int) throws {
        Engine.configure(threads: threads)
        try Engine.setPrecision(precision)
    }
}

extension Precision: ExpressibleByArgument {}
