// swift-tools-version:6.0
// attrib-adv: understanding misclassifications by attributes, as a batch pipeline of
// stage executables exchanging HDF5 artifacts. Layout: see README.md.
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
    .executableTarget(name: "inspect", dependencies: ["HDF5Store", "PipelineKit", argumentParser]),
    .target(name: "TestSupport", dependencies: ["HDF5Store"], path: "Tests/TestSupport"),
    .testTarget(name: "HDF5StoreTests", dependencies: ["HDF5Store", "TestSupport"]),
    .testTarget(name: "PipelineKitTests", dependencies: ["PipelineKit", "HDF5Store", "TestSupport"]),
    // Runs the built stage binaries on tiny data; one file per stage.
    .testTarget(name: "StageTests", dependencies: ["HDF5Store", "PipelineKit", "TestSupport"]),
]

// MARK: Neural-network engine (issue 3)
targets += [
]

// MARK: Datasets and image IO (issue 4)
targets += [
    // libjpeg/libpng behind setjmp/longjmp (Swift cannot longjmp); only ImageIO imports it.
    .target(name: "CImageCodecs", linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
    .target(name: "ImageIO", dependencies: ["CImageCodecs"], swiftSettings: fastMath),
    .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "TestSupport"]),
]

let package = Package(
    name: "attrib-adv",
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: targets,
    swiftLanguageModes: [.v5]
)
