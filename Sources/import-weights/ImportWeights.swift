import ArgumentParser
import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// Converts a PyTorch checkpoint (safetensors, torchvision key names) into a model file,
/// or a model file back into safetensors.
@main
struct ImportWeights: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-weights",
        abstract: "Convert a PyTorch safetensors checkpoint (torchvision key names) into a model file, or back.",
        discussion: """
        Import: --safetensors FILE --output model.h5. The architecture is inferred from the tensor \
        shapes (--arch auto) or checked against --arch; widths and the number of classes always come \
        from the shapes. num_batches_tracked entries are kept if present. Parameters must be float32.
        Export: --model model.h5 --output FILE.safetensors.
        """)

    @Option(help: "PyTorch checkpoint to import (safetensors).")
    var safetensors: String?

    @Option(help: "Model file to export to safetensors instead.")
    var model: String?

    @Option(help: "Architecture: auto, resnet18, resnet34, resnet50, resnet101, resnet152 or cifar-resnet<6n+2>.")
    var arch: String = "auto"

    @Option(help: "Input image side the model expects (default: 224 for torchvision layouts, 32 for CIFAR ones).")
    var inputSize: Int?

    @Option(help: "Per-channel input mean, comma-separated (default: ImageNet's 0.485,0.456,0.406).")
    var mean: String = "0.485,0.456,0.406"

    @Option(help: "Per-channel input std, comma-separated (default: ImageNet's 0.229,0.224,0.225).")
    var std: String = "0.229,0.224,0.225"

    @Option(help: "Output path: a model file (.h5) on import, a .safetensors file on export.")
    var output: String

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (safetensors == nil) != (model == nil) else {
            throw ValidationError("give exactly one of --safetensors (import) or --model (export)")
        }
        _ = try parseTriple(mean, "--mean")
        _ = try parseTriple(std, "--std")
        if let inputSize, inputSize < 1 { throw ValidationError("--input-size must be positive, got \(inputSize)") }
    }

    func parseTriple(_ text: String, _ name: String) throws -> [Float] {
        let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 3, values.allSatisfy({ $0 != nil }) else {
            throw ValidationError("\(name) needs three comma-separated numbers, got '\(text)'")
        }
        return values.map { $0! }
    }

    func run() throws {
        Engine.configure(threads: common.threads)
        do {
            if let model { try export(model) } else { try importCheckpoint(safetensors!) }
        } catch let error as ValidationError {
            throw error
        } catch {
            Log.info("import-weights: \(error)")
            throw ExitCode.failure
        }
    }

    func importCheckpoint(_ source: String) throws {
        let contents = try Safetensors.read(path: source)
        let shapes = contents.tensors.mapValues(\.shape)
        let meanValues = try parseTriple(mean, "--mean"), stdValues = try parseTriple(std, "--std")
        let config: ResNetConfig
        if arch == "auto" {
            config = try ResNetConfig.infer(fromShapes: shapes, inputSize: inputSize, mean: meanValues, std: stdValues)
        } else {
            guard let classes = shapes["fc.weight"]?.first else {
                throw StageError("\(source): no 'fc.weight' tensor, cannot tell the number of classes")
            }
            config = try ResNetConfig.named(arch, numClasses: classes, width: shapes["conv1.weight"]?.first,
                                            inputSize: inputSize, mean: meanValues, std: stdValues)
        }
        let network = try ResNet(config: config, stateDict: contents.tensors, numBatchesTracked: contents.counters)
        Log.info("import-weights: \(config), \(network.parameterCount) parameters")
        try StageRun(stage: "import-weights", output: output, seed: common.seed,
                     parameters: ["arch": arch, "resolved_arch": config.name, "input_size": config.inputSize,
                                  "mean": meanValues.map(Double.init), "std": stdValues.map(Double.init)],
                     inputs: [source]).run { file in
            try network.save(to: file)
        }
        Log.info("import-weights: wrote \(output)")
    }

    func export(_ source: String) throws {
        let network = try ResNet.load(from: source)
        try network.exportSafetensors(to: output)
        Log.info("import-weights: exported \(network.config.name) to \(output)")
    }
}
