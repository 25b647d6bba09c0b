/// Every random stream of the project, named by what it is for: the one place that keeps
/// the streams apart (two purposes sharing a stream would draw the same numbers). A stage
/// makes its generator as `SplitMix(seed: seed, stream: RandomStreams.<purpose>)`; the
/// values are fixed, since changing one changes every artifact drawn from it.
public enum RandomStreams {
    /// Per-image streams of training and attacks (ClassifierKit's `SampleRandom`, which mixes
    /// the purpose into the seed and keys the stream by image and restart or epoch).
    public enum Purpose: UInt64, Sendable {
        case randomStart = 0xA77A_C4_0001
        case shuffle = 0x5AFF_1E_0002
        case augment = 0xA06_3E47_0003
        /// APGD's random starts: (image, component << 20 | target << 10 | restart).
        case apgdStart = 0xA96D_57_0004
        /// Square Attack's initial stripes and per-query windows: (image, restart).
        case squareSearch = 0x5C0A_3E_0005
        /// `attack --target random`: image's counter-class draw (image, 0).
        case counterTarget = 0xC07A_26E_0006
    }

    /// Rendered birds: image `index` (its class's attribute draw and its rendering).
    public static func birdImage(_ index: Int) -> UInt64 { UInt64(index) }
    /// Rendered birds: class `k`'s assignment of images to splits.
    public static func birdSplits(classIndex k: Int) -> UInt64 { 0xC1A5_5000 &+ UInt64(k) }
    /// Imported sets: the validation images carved out of class `c`'s training images.
    public static func validationCarve(classIndex c: Int) -> UInt64 { UInt64(c) &+ 0x5A17 }
    /// AwA2: class `label`'s assignment of images to splits.
    public static func awa2Splits(label: Int) -> UInt64 { 0xA3A2_0000 &+ UInt64(label) }
    /// SJE: the initial W and the per-epoch shuffles.
    public static let sje: UInt64 = 0x5E1E_C7ED
    /// The report's random sample of test images for the explanation panels.
    public static let reportSample: UInt64 = 11
    /// Grounding: the random-point baseline of image `row`'s selection `selection`
    /// (0 clean, 1 adversarial, 2 reference).
    public static func groundingBaseline(row: Int, selection: Int) -> UInt64 { UInt64(row) &* 4 &+ UInt64(selection) }
    /// `fit-apn`: the attribute-prototype head's initial prototypes and its per-epoch shuffles.
    public static let apnHead: UInt64 = 0xA9_4EAD
}
