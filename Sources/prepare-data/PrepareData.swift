import ArgumentParser
import Datasets
import Foundation
import HDF5Store
import ImageIO
import PipelineKit

/// The datasets prepare-data can write.
enum DatasetName: String, ExpressibleByArgument, CaseIterable {
    case synthFine = "synth-fine", synthCoarse = "synth-coarse", cub, awa2, lad

    var isSynthetic: Bool { self == .synthFine || self == .synthCoarse }
}

/// Writes data/<ds>/images.h5: renders a synthetic bird dataset, or imports a real one
/// from its official directory layout, resizing images and their annotations.
@main
struct PrepareData: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare-data",
        abstract: "Write images.h5 (schema: docs/design.md) for a rendered-bird or a real attribute dataset.",
        discussion: """
        synth-fine and synth-coarse are rendered here, deterministically from --seed. synth-fine takes its class profiles from CUB's class-attribute matrix, read from --attributes-dir, which defaults to data/attributes relative to the working directory (the repository root when make runs it): cub/attributes.txt, cub/classes.txt and cub/class_attribute_labels_continuous.txt must be there.

        cub, awa2 and lad read the official tree under --root:
          cub:  images.txt image_class_labels.txt train_test_split.txt
                classes.txt attributes.txt parts/parts.txt parts/part_locs.txt
                attributes/class_attribute_labels_continuous.txt
                bounding_boxes.txt images/
          awa2: classes.txt predicates.txt predicate-matrix-continuous.txt
                JPEGImages/<class>/*.jpg
          lad:  label_list.txt attribute_list.txt attributes_per_class.txt
                split_supervisedlearning.txt images.txt images/

        Real images are resized (antialiased bilinear) to --size × --size, squashing the aspect ratio; keypoints and boxes are scaled with them. With --centre-crop they are stored as torchvision's evaluation transform Resize(S) + CenterCrop(--size) instead: the shorter side resized to S = --resize-shorter (default round(size × 256/224), 256 at 224 px), the longer side in proportion, then the centred --size × --size window kept, for every split (train's random resized crop then draws from that window); keypoints move with the crop and become invisible when cropped away, boxes are clipped to it, and a box with nothing left inside is stored as (0, 0, 0, 0). The root attributes image_transform (squash or resize-centre-crop) and resize_shorter record the choice. Class attributes are scaled to [0, 1]: CUB and AwA2 percentages are divided by 100, and AwA2's missing cells (-1) are replaced by the attribute's mean over the classes that have a value (listed in the imputed_cells attribute).
        """)

    @Option(help: "Dataset: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dataset: DatasetName

    @Option(help: "Root of the official dataset tree (cub, awa2, lad).")
    var root: String?

    @Option(help: "Side of the stored square images in pixels (default: 32 for synthetic, 224 for real datasets).")
    var size: Int?

    @Flag(help: "cub, awa2, lad: store the resize-shorter-side + centre crop of each image (torchvision's Resize + CenterCrop, the authors' evaluation transform) instead of squashing the whole image to --size × --size.")
    var centreCrop = false

    @Option(help: "With --centre-crop: the shorter side in pixels after resizing, before the --size × --size centre crop (default round(size × 256/224): 256 at 224 px).")
    var resizeShorter: Int?

    @Option(help: "Synthetic only: images rendered per class.")
    var imagesPerClass = 200
    @Option(help: "Rendered sets: the birds' span as a multiple of what their size attribute gives (1: CUB's sizes; birds cut by the frame above about 1.4).")
    var birdScale: Double = 1

    @Option(help: "synth-fine only: number of CUB classes, spread evenly over CUB's 200.")
    var classes = 50

    @Option(help: "synth-fine only: exponent sharpening CUB's per-class value distributions (1 = as in CUB).")
    var sharpness = 2.0

    @Option(help: "Folder holding the shipped attribute files (synth-fine reads cub/ in it).")
    var attributesDir = "data/attributes"

    @Option(help: "Synthetic and awa2: fraction of each class's images in train (default 0.7; awa2: from --split-sizes).")
    var trainFraction: Double?

    @Option(help: "Fraction for val (default 0.1): of each class's images (synthetic; awa2 with --train-fraction), or of each class's official training images (cub, lad).")
    var valFraction: Double?

    @Option(help: "awa2: total train,val,test sizes, scaled to the images found if they differ (default the paper's 22206,5599,9517).")
    var splitSizes: String?

    @Flag(help: "Skip images that cannot be decoded (counted and listed in the output's attributes) instead of failing.")
    var skipBadImages = false

    @Option(help: "Also write a PNG contact sheet of the first 64 images with their class names (synthetic: and breast/wing colours).")
    var preview: String?

    @Option(help: "Output images.h5 (written atomically). May be omitted when only --preview is wanted.")
    var output: String?

    @OptionGroup var common: CommonOptions

    mutating func validate() throws {
        if dataset.isSynthetic {
            if root != nil { throw ValidationError("--root is for cub, awa2 and lad; \(dataset.rawValue) is rendered") }
            guard birdScale.isFinite, (0.25...3).contains(birdScale) else {
                throw ValidationError("--bird-scale must be in 0.25...3, got \(birdScale)")
            }
            // The upper limit keeps classes × images × size² × 3 bytes far from overflow.
            guard (1...100_000).contains(imagesPerClass) else {
                throw ValidationError("--images-per-class must be in 1...100000, got \(imagesPerClass)")
            }
            if dataset == .synthFine, classes < 1 { throw ValidationError("--classes must be at least 1, got \(classes)") }
        } else {
            guard root != nil else { throw ValidationError("--dataset \(dataset.rawValue) needs --root DIR (the official tree)") }
            if preview != nil && output == nil { throw ValidationError("--preview for real datasets is drawn from the written output: give --output too") }
        }
        guard output != nil || preview != nil else { throw ValidationError("give --output (and/or --preview)") }
        if let size { guard (8...1024).contains(size) else { throw ValidationError("--size must be in 8...1024, got \(size)") } }
        if dataset.isSynthetic && centreCrop {
            throw ValidationError("--centre-crop is for cub, awa2 and lad; \(dataset.rawValue) is rendered at --size")
        }
        if let resizeShorter {
            guard centreCrop else { throw ValidationError("--resize-shorter needs --centre-crop (without it the whole image is resized to --size × --size)") }
            let side = size ?? 224
            guard resizeShorter > 0 else { throw ValidationError("--resize-shorter must be positive, got \(resizeShorter)") }
            guard resizeShorter >= side else {
                throw ValidationError("--resize-shorter \(resizeShorter) is smaller than --size \(side): the \(side) × \(side) centre crop would not fit in the resized image (torchvision would pad; give --resize-shorter ≥ \(side))")
            }
            guard resizeShorter <= 4 * side else {
                throw ValidationError("--resize-shorter \(resizeShorter) is more than 4 × --size \(side): the crop would keep under a quarter of the shorter side")
            }
        }
        let train = trainFraction ?? 0.7, val = valFraction ?? 0.1
        guard train >= 0, val >= 0, train + val <= 1, train > 0 else {
            throw ValidationError("--train-fraction and --val-fraction must be non-negative, train > 0, and sum to at most 1")
        }
    }

    func run() throws {
        switch dataset {
        case .synthFine, .synthCoarse: try runSynthetic()
        case .cub, .awa2, .lad: try runImport()
        }
    }
}
