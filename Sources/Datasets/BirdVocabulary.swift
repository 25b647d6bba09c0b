/// The attribute groups the bird renderer draws, named exactly as in CUB-200-2011's
/// attributes.txt (`has_breast_color::red`), so synthetic and real birds share one vocabulary.
public struct AttributeGroup: Equatable, Sendable {
    /// CUB's group prefix, e.g. `has_breast_color`.
    public let name: String
    /// The rendered values in CUB spelling, in CUB's order (a subset where a value
    /// cannot be drawn, e.g. the bill shapes `hooked_seabird` and `specialized`).
    public let values: [String]

    /// The full attribute names `name::value`.
    public var attributeNames: [String] { values.map { "\(name)::\($0)" } }
}

/// CUB's 15-colour vocabulary and the reference RGB the renderer paints each colour with.
///
/// The references are spread out so that every pair is at least ~50 apart in RGB: that is
/// what lets the pixels of a part identify its colour attribute (tested). Iridescent is
/// painted as a teal-to-violet sheen whose mean is its reference.
public enum BirdColor: Int, CaseIterable, Sendable {
    case blue, brown, iridescent, purple, rufous, grey, yellow, olive, green, pink, orange, black, white, red, buff

    /// CUB's spelling.
    public var name: String {
        switch self {
        case .blue: "blue"
        case .brown: "brown"
        case .iridescent: "iridescent"
        case .purple: "purple"
        case .rufous: "rufous"
        case .grey: "grey"
        case .yellow: "yellow"
        case .olive: "olive"
        case .green: "green"
        case .pink: "pink"
        case .orange: "orange"
        case .black: "black"
        case .white: "white"
        case .red: "red"
        case .buff: "buff"
        }
    }

    /// Reference colour (0–255 per channel).
    public var rgb: SIMD3<Float> {
        switch self {
        case .blue: [45, 85, 205]
        case .brown: [120, 75, 40]
        case .iridescent: [40, 110, 120]
        case .purple: [115, 45, 150]
        case .rufous: [185, 75, 30]
        case .grey: [130, 130, 130]
        case .yellow: [240, 210, 45]
        case .olive: [115, 135, 40]
        case .green: [45, 155, 55]
        case .pink: [240, 150, 185]
        case .orange: [250, 145, 25]
        case .black: [25, 25, 25]
        case .white: [245, 245, 240]
        case .red: [215, 30, 35]
        case .buff: [225, 195, 145]
        }
    }

    /// The palette colour nearest to `c` in RGB (used to check rendered pixels).
    public static func nearest(to c: SIMD3<Float>) -> BirdColor {
        allCases.min { distanceSquared($0.rgb, c) < distanceSquared($1.rgb, c) }!
    }
}

@inline(__always)
func distanceSquared(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float {
    let d = a - b
    return (d * d).sum()
}

/// The rendered groups, in the order their attributes appear in images.h5.
public enum BirdGroup: Int, CaseIterable, Sendable {
    // CUB's attributes.txt order.
    case billShape, wingColor, breastPattern, backColor, tailShape, upperTailColor, breastColor,
         throatColor, eyeColor, billLength, foreheadColor, napeColor, bellyColor, size, legColor,
         billColor, crownColor, wingPattern

    /// CUB's name and rendered values for this group.
    public var group: AttributeGroup {
        let colors = BirdColor.allCases.map(\.name)
        let patterns = ["solid", "spotted", "striped", "multi-colored"]
        switch self {
        case .billShape:
            return AttributeGroup(name: "has_bill_shape", values: BillShape.allCases.map(\.cubName))
        case .wingColor: return AttributeGroup(name: "has_wing_color", values: colors)
        case .breastPattern: return AttributeGroup(name: "has_breast_pattern", values: patterns)
        case .upperTailColor: return AttributeGroup(name: "has_upper_tail_color", values: colors)
        case .breastColor: return AttributeGroup(name: "has_breast_color", values: colors)
        case .throatColor: return AttributeGroup(name: "has_throat_color", values: colors)
        // CUB has no iridescent eyes.
        case .eyeColor: return AttributeGroup(name: "has_eye_color", values: colors.filter { $0 != "iridescent" })
        case .billLength:
            return AttributeGroup(name: "has_bill_length", values: BillLength.allCases.map(\.cubName))
        case .foreheadColor: return AttributeGroup(name: "has_forehead_color", values: colors)
        case .napeColor: return AttributeGroup(name: "has_nape_color", values: colors)
        case .bellyColor: return AttributeGroup(name: "has_belly_color", values: colors)
        case .size: return AttributeGroup(name: "has_size", values: BirdSize.allCases.map(\.cubName))
        case .backColor: return AttributeGroup(name: "has_back_color", values: colors)
        case .legColor: return AttributeGroup(name: "has_leg_color", values: colors)
        case .billColor: return AttributeGroup(name: "has_bill_color", values: colors)
        case .crownColor: return AttributeGroup(name: "has_crown_color", values: colors)
        case .wingPattern: return AttributeGroup(name: "has_wing_pattern", values: patterns)
        case .tailShape: return AttributeGroup(name: "has_tail_shape", values: TailShape.allCases.map(\.cubName))
        }
    }

    /// Offset of this group's first attribute in the flat attribute vector.
    public var offset: Int { BirdGroup.offsets[rawValue] }

    static let offsets: [Int] = {
        var out: [Int] = []
        var total = 0
        for g in BirdGroup.allCases { out.append(total); total += g.group.values.count }
        return out
    }()

    /// All rendered attribute names, group after group (CUB's group order).
    public static let attributeNames: [String] = allCases.flatMap { $0.group.attributeNames }

    /// Converts a value index of this group to a BirdColor (colour groups only).
    func color(_ value: Int) -> BirdColor {
        let name = group.values[value]
        return BirdColor.allCases.first { $0.name == name }!
    }
}

/// Bill shapes the renderer can draw (CUB's `hooked_seabird` and `specialized` are omitted).
public enum BillShape: Int, CaseIterable, Sendable {
    case curved, dagger, hooked, needle, spatulate, allPurpose, cone
    var cubName: String {
        ["curved_(up_or_down)", "dagger", "hooked", "needle", "spatulate", "all-purpose", "cone"][rawValue]
    }
}

/// CUB's bill lengths, relative to the head.
public enum BillLength: Int, CaseIterable, Sendable {
    case aboutTheSame, longer, shorter
    var cubName: String { ["about_the_same_as_head", "longer_than_head", "shorter_than_head"][rawValue] }
}

/// CUB's tail shapes.
public enum TailShape: Int, CaseIterable, Sendable {
    case forked, rounded, notched, fanShaped, pointed, squared
    var cubName: String {
        ["forked_tail", "rounded_tail", "notched_tail", "fan-shaped_tail", "pointed_tail", "squared_tail"][rawValue]
    }
}

/// CUB's sizes, rendered as the bird's scale in the frame.
public enum BirdSize: Int, CaseIterable, Sendable {
    case large, small, veryLarge, medium, verySmall
    var cubName: String {
        ["large_(16_-_32_in)", "small_(5_-_9_in)", "very_large_(32_-_72_in)", "medium_(9_-_16_in)", "very_small_(3_-_5_in)"][rawValue]
    }
    /// Fraction of the image width the bird's body-plus-head spans.
    var frameFraction: Double {
        switch self {
        case .verySmall: 0.36
        case .small: 0.45
        case .medium: 0.54
        case .large: 0.63
        case .veryLarge: 0.72
        }
    }
}

/// The patterns of the breast and wing groups.
public enum PlumagePattern: Int, CaseIterable, Sendable {
    case solid, spotted, striped, multiColored
}

/// One bird's attribute values: a value index for every rendered group.
public struct BirdAttributes: Equatable, Sendable {
    /// `values[g.rawValue]` indexes `g.group.values`.
    public var values: [Int]

    public init(values: [Int]) {
        precondition(values.count == BirdGroup.allCases.count)
        self.values = values
    }

    public subscript(_ g: BirdGroup) -> Int { values[g.rawValue] }

    /// One-hot vector over `BirdGroup.attributeNames` (1 for each group's value).
    public var vector: [Float] {
        var out = [Float](repeating: 0, count: BirdGroup.attributeNames.count)
        for g in BirdGroup.allCases { out[g.offset + self[g]] = 1 }
        return out
    }

    func color(_ g: BirdGroup) -> BirdColor { g.color(self[g]) }
}
