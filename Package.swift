// swift-tools-version:6.0
// attrib-adv: understanding misclassifications by attributes, as a batch pipeline of
// stage executables exchanging HDF5 artifacts. Layout: README.md § Layout.
// Targets by layer, each with everything it uses on its own line: C shims, core, engine,
// data, analysis libraries, stages, tests.
import Foundation
import PackageDescription

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

/// The engine's kernels are built with -Ounchecked in release: they are tested against
/// naive versions, finite differences and PyTorch in debug builds, where all checks stay on,
/// and bounds checks in their inner loops cost measurable time. Code that reads files or
/// options keeps its checks in release (a precondition there must stop the program, not
/// become an out-of-bounds access).
///
/// On x86-64 they are also compiled for AVX2 (`-target-cpu haswell`, x86-64-v3: every x86
/// server CPU since about 2015). Swift's default target is SSE2, on which the kernels the
/// engine runs itself (batch norm, pooling, SGD, bf16 conversion) go four lanes wide.
/// Results are the same bits either way (Swift never fuses a multiply and an add into an
/// FMA on its own; the SIMD sums keep their order). ATTRIB_PORTABLE=1 in the build's
/// environment leaves it out, for older CPUs.
#if arch(x86_64)
let targetCPU = ProcessInfo.processInfo.environment["ATTRIB_PORTABLE"] == "1" ? [] : ["-target-cpu", "haswell"]
#else
let targetCPU: [String] = []
#endif
let fastMath: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + targetCPU, .when(configuration: .release))]

/// oneDNN (Debian libdnnl-dev) runs the engine's convolutions when its header is installed
/// (`make deps` installs it); without it, or with ATTRIB_ONEDNN=0 in the build's environment,
/// the engine's own im2col + GEMM kernels run (docs/engine.md). They are always built: they
/// are the reference the tests compare oneDNN against, and `ATTRIB_BACKEND=reference`
/// selects them at run time.
let oneDNN = FileManager.default.fileExists(atPath: "/usr/include/oneapi/dnnl/dnnl.h")
    && ProcessInfo.processInfo.environment["ATTRIB_ONEDNN"] != "0"
let oneDNNTargets: [Target] = oneDNN ? [.target(name: "COneDNN", linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")])] : []
let tensorsDependencies: [Target.Dependency] = ["COpenBLAS"] + (oneDNN ? ["COneDNN"] : [])
let tensorsSettings: [SwiftSetting] = fastMath + (oneDNN ? [.define("ONEDNN")] : [])

let targets: [Target] = oneDNNTargets + [
    // MARK: C shims (only one Swift file imports each)
    .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    // libjpeg/libpng behind setjmp/longjmp (Swift cannot longjmp).
    .target(name: "CImageCodecs", linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
    // Open MPI from Debian (libopenmpi-dev), handles re-exported by a shim.
    .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),

    // MARK: Core: files, stage kit, randomness
    .target(name: "HDF5Store", dependencies: ["CHDF5"]),
    .target(name: "PipelineKit", dependencies: ["HDF5Store", argumentParser]),
    // SplitMix64 and the registry of random streams every stage draws from.
    .target(name: "Randomness"),

    // MARK: Engine: tensors, kernels, layers, ResNets
    .target(name: "Tensors", dependencies: tensorsDependencies, swiftSettings: tensorsSettings),
    .target(name: "NeuralNet", dependencies: ["Tensors", "HDF5Store", "Randomness"], swiftSettings: fastMath),

    // MARK: Data: images, datasets, classifiers
    .target(name: "ImageIO", dependencies: ["CImageCodecs"]),
    // Renderer, class profiles, importers and the images.h5 writer.
    .target(name: "Datasets", dependencies: ["ImageIO", "HDF5Store", "Randomness"]),
    .target(name: "ClassifierKit", dependencies: ["NeuralNet", "HDF5Store", "PipelineKit", "Randomness", argumentParser]),
    // Data-parallel training: the only code that calls MPI.
    .target(name: "MessagePassing", dependencies: ["CMPI", "ClassifierKit", "PipelineKit"]),

    // MARK: Analysis: attribute space, grounding, figures, report
    .target(name: "AttributeSpace", dependencies: ["Tensors", "HDF5Store", "PipelineKit", "Randomness", argumentParser]),
    .target(name: "Grounding", dependencies: ["AttributeSpace", "ClassifierKit", "ImageIO", "NeuralNet", "HDF5Store", "PipelineKit",
                                              "Randomness"]),
    // SVG figures (axes, ticks, lines, bars, histograms, legends) with a CSV of the plotted numbers.
    .target(name: "Plotting"),
    .target(name: "ReportKit", dependencies: ["Plotting", "Grounding", "Verdicts", "HDF5Store", "ImageIO", "PipelineKit",
                                              "Randomness"]),
    // The metrics document, the paper's claims and their bootstrap verdicts: written by
    // quantify, read by the report and the tests.
    .target(name: "Verdicts", dependencies: ["Randomness"]),

    // MARK: Stages: one executable each
    .executableTarget(name: "prepare-data", dependencies: ["Datasets", "ImageIO", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "import-weights", dependencies: ["NeuralNet", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "train", dependencies: ["ClassifierKit", "Grounding", "MessagePassing", "NeuralNet", "HDF5Store",
                                                    "PipelineKit", argumentParser]),
    .executableTarget(name: "adv-train", dependencies: ["ClassifierKit", "MessagePassing", "NeuralNet", "HDF5Store", "PipelineKit",
                                                        argumentParser]),
    .executableTarget(name: "attack", dependencies: ["ClassifierKit", "NeuralNet", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "attack-summary", dependencies: ["HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "extract-features", dependencies: ["ClassifierKit", "AttributeSpace", "NeuralNet", "HDF5Store",
                                                               "PipelineKit", argumentParser]),
    .executableTarget(name: "fit-sje", dependencies: ["AttributeSpace", "Tensors", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "predict-attributes", dependencies: ["AttributeSpace", "Tensors", "HDF5Store", "PipelineKit",
                                                                 argumentParser]),
    .executableTarget(name: "ground", dependencies: ["Grounding", "AttributeSpace", "ClassifierKit", "NeuralNet", "HDF5Store",
                                                     "PipelineKit", "Randomness", argumentParser]),
    // quantify reads grounding files through Grounding's one reader.
    .executableTarget(name: "quantify", dependencies: ["AttributeSpace", "Grounding", "Verdicts", "Tensors", "HDF5Store",
                                                       "PipelineKit", argumentParser]),
    .executableTarget(name: "report", dependencies: ["ReportKit", "Verdicts", "PipelineKit", argumentParser]),
    // Counterfactual explanations (docs/explain.md): counter-attributes, counter-examples, confusions.
    .executableTarget(name: "explain", dependencies: ["AttributeSpace", "Grounding", "ClassifierKit", "NeuralNet", "Verdicts", "HDF5Store",
                                                      "PipelineKit", "Randomness", argumentParser]),
    // Joins the part files of --shard runs; recomputes a merged grounding file's summaries with Grounding's code.
    .executableTarget(name: "merge-shards", dependencies: ["PipelineKit", "Grounding", argumentParser]),
    .executableTarget(name: "train-detector", dependencies: ["Grounding", "ClassifierKit", "NeuralNet", "HDF5Store", "PipelineKit",
                                                     argumentParser]),
    // Attribute-prototype head (APN) on a frozen classifier's stage map, for `ground --method apn`.
    .executableTarget(name: "fit-apn", dependencies: ["Grounding", "ClassifierKit", "NeuralNet", "HDF5Store", "PipelineKit",
                                                      argumentParser]),
    .executableTarget(name: "inspect", dependencies: ["HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "engine-bench", dependencies: ["NeuralNet", "Tensors", "Grounding", "Randomness", argumentParser],
                      exclude: ["pytorch_bench.py", "beside_pytorch.sh", "speed_bars.py"], swiftSettings: fastMath),

    // MARK: Tests: one target per library; StageTests run the built binaries on tiny data
    .target(name: "TestSupport", dependencies: ["HDF5Store"], path: "Tests/TestSupport"),
    .testTarget(name: "HDF5StoreTests", dependencies: ["HDF5Store", "TestSupport"]),
    .testTarget(name: "PipelineKitTests", dependencies: ["PipelineKit", "HDF5Store", "TestSupport"]),
    .testTarget(name: "TensorsTests", dependencies: ["Tensors", "Randomness", "TestSupport"],
                swiftSettings: oneDNN ? [.define("ONEDNN")] : []),
    .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "Tensors", "HDF5Store", "Randomness", "TestSupport"]),
    .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "TestSupport"]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ImageIO", "HDF5Store", "Randomness", "TestSupport"]),
    .testTarget(name: "ClassifierKitTests", dependencies: ["ClassifierKit", "NeuralNet", "HDF5Store", "Randomness", "TestSupport"]),
    .testTarget(name: "AttributeSpaceTests", dependencies: ["AttributeSpace", "Randomness", "TestSupport"]),
    .testTarget(name: "GroundingTests", dependencies: ["Grounding", "AttributeSpace", "ImageIO", "NeuralNet", "Randomness",
                                                       "HDF5Store", "TestSupport"]),
    .testTarget(name: "PlottingTests", dependencies: ["Plotting", "TestSupport"]),
    .testTarget(name: "ReportTests", dependencies: ["ReportKit", "Plotting", "Verdicts", "HDF5Store", "ImageIO", "TestSupport"]),
    .testTarget(name: "VerdictsTests", dependencies: ["Verdicts"]),
    .testTarget(name: "StageTests", dependencies: ["HDF5Store", "PipelineKit", "Verdicts", "TestSupport", "ImageIO"]),
]

let package = Package(
    name: "attrib-adv",
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: targets,
    swiftLanguageModes: [.v5]
)
