// swift-tools-version:6.0
// attrib-adv: understanding misclassifications by attributes, as a batch pipeline of
// stage executables exchanging HDF5 artifacts. Layout: README.md § Layout.
import PackageDescription

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

/// Numeric code is built with -Ounchecked in release: the kernels are tested against
/// naive versions and PyTorch in debug builds, where all checks stay on.
let fastMath: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

// MARK: Foundation: C libraries, HDF5 store, pipeline kit, inspect (issue 2)
var targets: [Target] = [
    .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .target(name: "HDF5Store", dependencies: ["CHDF5"]),
    .target(name: "PipelineKit", dependencies: ["HDF5Store", argumentParser]),
    // SplitMix64: the one seeded generator every stage draws from.
    .target(name: "Randomness"),
    .executableTarget(name: "inspect", dependencies: ["HDF5Store", "PipelineKit", argumentParser]),
    .target(name: "TestSupport", dependencies: ["HDF5Store"], path: "Tests/TestSupport"),
    .testTarget(name: "HDF5StoreTests", dependencies: ["HDF5Store", "TestSupport"]),
    .testTarget(name: "PipelineKitTests", dependencies: ["PipelineKit", "HDF5Store", "TestSupport"]),
    // Runs the built stage binaries on tiny data; one file per stage.
    .testTarget(name: "StageTests", dependencies: ["HDF5Store", "PipelineKit", "TestSupport", "ImageIO"]),
]

// MARK: Neural-network engine (issue 3)
targets += [
    .target(name: "Tensors", dependencies: ["COpenBLAS"], swiftSettings: fastMath),
    .target(name: "NeuralNet", dependencies: ["Tensors", "HDF5Store", "Randomness"], swiftSettings: fastMath),
    .executableTarget(name: "import-weights", dependencies: ["NeuralNet", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "engine-bench", dependencies: ["NeuralNet", "Tensors", "Randomness", argumentParser],
                      exclude: ["pytorch_bench.py"], swiftSettings: fastMath),
    .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
    .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "Tensors", "HDF5Store", "Randomness", "TestSupport"]),
]

// MARK: Datasets and image IO (issue 4)
targets += [
    // libjpeg/libpng behind setjmp/longjmp (Swift cannot longjmp); only ImageIO imports it.
    .target(name: "CImageCodecs", linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
    .target(name: "ImageIO", dependencies: ["CImageCodecs"], swiftSettings: fastMath),
    .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "TestSupport"]),
    // Renderer, class profiles, importers and the images.h5 writer; the renderer's inner
    // loops are per-pixel float code, hence fastMath.
    .target(name: "Datasets", dependencies: ["ImageIO", "HDF5Store", "Randomness"], swiftSettings: fastMath),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ImageIO", "HDF5Store", "Randomness", "TestSupport"]),
    .executableTarget(name: "prepare-data", dependencies: ["Datasets", "ImageIO", "HDF5Store", "PipelineKit", argumentParser]),
]

// MARK: Classifier stages: train, adv-train, attack, extract-features (issue 5)
targets += [
    .target(name: "ClassifierKit", dependencies: ["NeuralNet", "HDF5Store", "PipelineKit", "Randomness", argumentParser], swiftSettings: fastMath),
    .executableTarget(name: "train", dependencies: ["ClassifierKit", "NeuralNet", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "adv-train", dependencies: ["ClassifierKit", "NeuralNet", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "attack", dependencies: ["ClassifierKit", "NeuralNet", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "extract-features", dependencies: ["ClassifierKit", "AttributeSpace", "NeuralNet", "HDF5Store", "PipelineKit", argumentParser]),
    .testTarget(name: "ClassifierKitTests", dependencies: ["ClassifierKit", "NeuralNet", "HDF5Store", "Randomness", "TestSupport"]),
]

// MARK: Attribute stages: SJE, predicted attributes, quantification (issue 6)
targets += [
    .target(name: "AttributeSpace", dependencies: ["Tensors", "HDF5Store", "Randomness"], swiftSettings: fastMath),
    .executableTarget(name: "fit-sje", dependencies: ["AttributeSpace", "Tensors", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "predict-attributes", dependencies: ["AttributeSpace", "Tensors", "HDF5Store", "PipelineKit", argumentParser]),
    .executableTarget(name: "quantify", dependencies: ["AttributeSpace", "Tensors", "HDF5Store", "PipelineKit", argumentParser]),
    .testTarget(name: "AttributeSpaceTests", dependencies: ["AttributeSpace", "Randomness", "TestSupport"]),
]

// MARK: Shards and clusters (issue 13): merge-shards joins the part files of --shard runs
targets += [
    .executableTarget(name: "merge-shards", dependencies: ["PipelineKit", argumentParser]),
]

// MARK: Grounding: attribute maps on the image, scored against part truth (issue 10)
targets += [
    .target(name: "Grounding", dependencies: ["AttributeSpace", "ClassifierKit", "NeuralNet", "HDF5Store", "Randomness"], swiftSettings: fastMath),
    .executableTarget(name: "ground", dependencies: ["Grounding", "AttributeSpace", "ClassifierKit", "NeuralNet", "HDF5Store",
                                                     "PipelineKit", "Randomness", argumentParser]),
    .testTarget(name: "GroundingTests", dependencies: ["Grounding", "AttributeSpace", "NeuralNet", "Randomness", "HDF5Store", "TestSupport"]),
]
// quantify's grounding table reads grounding files through Grounding's one reader.
targets.first { $0.name == "quantify" }?.dependencies.append("Grounding")
// merge-shards recomputes a merged grounding file's summaries with Grounding's code.
targets.first { $0.name == "merge-shards" }?.dependencies.append("Grounding")

// MARK: Report: plotting library and the report stage (issue 11)
targets += [
    // SVG figures (axes, nice ticks, lines, bars, histograms, legends) with a CSV of the plotted numbers.
    .target(name: "Plotting"),
    .testTarget(name: "PlottingTests", dependencies: ["Plotting", "TestSupport"]),
    .target(name: "ReportKit", dependencies: ["Plotting", "HDF5Store", "ImageIO", "PipelineKit", "Randomness"]),
    .executableTarget(name: "report", dependencies: ["ReportKit", "PipelineKit", argumentParser]),
    .testTarget(name: "ReportTests", dependencies: ["ReportKit", "Plotting", "HDF5Store", "ImageIO", "TestSupport"]),
]
// The report reads grounding files (maps, peaks, summaries) through Grounding's reader too.
targets.first { $0.name == "ReportKit" }?.dependencies.append("Grounding")

// MARK: Verdicts: the metrics document, the paper's claims and their bootstrap verdicts (issue 20)
targets += [
    .target(name: "Verdicts", dependencies: ["Randomness"]),
    .testTarget(name: "VerdictsTests", dependencies: ["Verdicts"]),
]
// quantify writes the metrics document and its findings; report and the tests read them.
targets.first { $0.name == "quantify" }?.dependencies.append("Verdicts")
targets.first { $0.name == "ReportKit" }?.dependencies.append("Verdicts")
targets.first { $0.name == "report" }?.dependencies.append("Verdicts")
targets.first { $0.name == "StageTests" }?.dependencies.append("Verdicts")
targets.first { $0.name == "ReportTests" }?.dependencies.append("Verdicts")

// MARK: Data-parallel training over MPI (issue 14)
targets += [
    // Open MPI from Debian (libopenmpi-dev): handles re-exported by a shim; only
    // MessagePassing's MPICommunicator.swift imports it.
    .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
    .target(name: "MessagePassing", dependencies: ["CMPI", "ClassifierKit", "PipelineKit"]),
]
for target in targets where ["train", "adv-train"].contains(target.name) {
    target.dependencies.append("MessagePassing")
}

let package = Package(
    name: "attrib-adv",
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: targets,
    swiftLanguageModes: [.v5]
)
