import Foundation

/// Fine-grained or coarse: which of the paper's claims concern a dataset (docs/claims.md).
public enum DatasetKind: String, Codable, Sendable, CaseIterable {
    case fine, coarse

    /// The kind of a dataset known by name (synth-fine and cub are fine-grained; synth-coarse,
    /// awa2 and lad coarse); nil for another name.
    public init?(datasetName name: String) {
        switch name {
        case "synth-fine", "cub": self = .fine
        case "synth-coarse", "awa2", "lad": self = .coarse
        default: return nil
        }
    }
}

/// The CNN's own classifier f (`general`) and the attribute-based one F (`attribute`).
public enum ClassifierName: String, Codable, Sendable, CaseIterable {
    case general, attribute
    public var symbol: String { self == .general ? "f" : "F" }
}

/// The five image sets whose accuracy quantify measures at one eps.
public enum AccuracySetName: String, Codable, Sendable, CaseIterable {
    case standardClean = "standard_clean", standardAdversarial = "standard_adversarial"
    case robustClean = "robust_clean", robustAdversarial = "robust_adversarial", robustTransfer = "robust_transfer"
}

/// One value per image set (accuracies, or per-image predictions).
public struct PerSet<Value> {
    public var standardClean: Value
    public var standardAdversarial: Value
    public var robustClean: Value
    public var robustAdversarial: Value
    public var robustTransfer: Value

    public init(standardClean: Value, standardAdversarial: Value, robustClean: Value, robustAdversarial: Value, robustTransfer: Value) {
        self.standardClean = standardClean; self.standardAdversarial = standardAdversarial; self.robustClean = robustClean
        self.robustAdversarial = robustAdversarial; self.robustTransfer = robustTransfer
    }

    public init(_ value: (AccuracySetName) -> Value) {
        self.init(standardClean: value(.standardClean), standardAdversarial: value(.standardAdversarial),
                  robustClean: value(.robustClean), robustAdversarial: value(.robustAdversarial), robustTransfer: value(.robustTransfer))
    }

    public subscript(_ set: AccuracySetName) -> Value {
        switch set {
        case .standardClean: standardClean
        case .standardAdversarial: standardAdversarial
        case .robustClean: robustClean
        case .robustAdversarial: robustAdversarial
        case .robustTransfer: robustTransfer
        }
    }
}

extension PerSet: Codable where Value: Codable {}
extension PerSet: Equatable where Value: Equatable {}
extension PerSet: Sendable where Value: Sendable {}

/// One value per classifier.
public struct PerClassifier<Value> {
    public var general: Value
    public var attribute: Value

    public init(general: Value, attribute: Value) { self.general = general; self.attribute = attribute }
    public init(_ value: (ClassifierName) -> Value) { self.init(general: value(.general), attribute: value(.attribute)) }
    public subscript(_ c: ClassifierName) -> Value { c == .general ? general : attribute }
}

extension PerClassifier: Codable where Value: Codable {}
extension PerClassifier: Equatable where Value: Equatable {}
extension PerClassifier: Sendable where Value: Sendable {}

/// The robust ratio of one classifier at one eps (eqs. 9–11) and its transfer variant.
public struct RatioRecord: Codable, Sendable, Equatable {
    /// R = L_R / L_S (NaN when L_S = 0).
    public var robustRatio: Double
    /// 1 − R.
    public var recoveredFraction: Double
    /// L_R and L_S.
    public var lossRobust: Double
    public var lossStandard: Double
    /// R with the standard model's adversarials fed to the robust model.
    public var transferRobustRatio: Double
    public var transferRecoveredFraction: Double

    public init(robustRatio: Double, recoveredFraction: Double, lossRobust: Double, lossStandard: Double,
                transferRobustRatio: Double, transferRecoveredFraction: Double) {
        self.robustRatio = robustRatio; self.recoveredFraction = recoveredFraction; self.lossRobust = lossRobust
        self.lossStandard = lossStandard; self.transferRobustRatio = transferRobustRatio
        self.transferRecoveredFraction = transferRecoveredFraction
    }
}

/// Summary of a distance study (eqs. 12–15) over its images.
public struct StudySummary: Codable, Sendable, Equatable {
    public var images: Int
    public var meanD1: Double
    public var meanD2: Double
    public var medianD1: Double
    public var medianD2: Double
    public var fractionD1BelowD2: Double

    public init(images: Int, meanD1: Double, meanD2: Double, medianD1: Double, medianD2: Double, fractionD1BelowD2: Double) {
        self.images = images; self.meanD1 = meanD1; self.meanD2 = meanD2; self.medianD1 = medianD1; self.medianD2 = medianD2
        self.fractionD1BelowD2 = fractionD1BelowD2
    }
}

/// One image of a distance study. `image` is its position among the test images
/// (`ImageOutcomes.labels`), so a bootstrap resample weights it like every other number of
/// that image.
public struct StudyImage: Codable, Sendable, Equatable {
    public var image: Int
    public var d1: Double
    public var d2: Double
    /// Study (a): the clean attributes A are nearer φ(yₙ) than φ(y). Study (b): the robust
    /// model's attributes Âʳ are nearer φ(yₙ) than φ(y).
    public var nearerTrueClass: Bool
    /// Study (a) only: the adversarial attributes Â are nearer φ(y) than φ(yₙ).
    public var adversarialNearerWrongClass: Bool?

    public init(image: Int, d1: Double, d2: Double, nearerTrueClass: Bool, adversarialNearerWrongClass: Bool? = nil) {
        self.image = image; self.d1 = d1; self.d2 = d2; self.nearerTrueClass = nearerTrueClass
        self.adversarialNearerWrongClass = adversarialNearerWrongClass
    }
}

/// Which test images each classifier gets right: the predictions per set, in test-image
/// order (the order of the standard model's test features).
public struct ImageOutcomes: Codable, Sendable, Equatable {
    public var labels: [Int32]
    public var predictions: PerClassifier<PerSet<[Int32]>>

    public init(labels: [Int32], predictions: PerClassifier<PerSet<[Int32]>>) {
        self.labels = labels; self.predictions = predictions
    }
}

/// The grounding items of one test image on one image set of a grounding file: how many
/// were scored, hit their part, were grounded, and each chance baseline's hits and plays.
public struct GroundingImage: Codable, Sendable, Equatable {
    public var image: Int
    public var scored: Int
    public var hits: Int
    public var grounded: Int
    /// Per baseline (the file's order, `GroundingRecord.baselines`).
    public var baselineHits: [Int]
    public var baselinePlayed: [Int]
    /// The CNN's prediction on this image is the true label.
    public var generalCorrect: Bool
    /// Sums over the items with an energy share and a uniform-over-the-bird level (both
    /// finite): the energy shares, the levels, and how many (nil in files without levels).
    public var energy: Double?
    public var uniformEnergy: Double?
    public var energyItems: Int?
    /// The detector route (`ground --detector`): scored items the detector grounds (finds the
    /// value on the part), and those whose detector place lies on the part (nil without a detector).
    public var detectorGrounded: Int?
    public var detectorHits: Int?

    public init(image: Int, scored: Int, hits: Int, grounded: Int, baselineHits: [Int], baselinePlayed: [Int], generalCorrect: Bool,
                energy: Double? = nil, uniformEnergy: Double? = nil, energyItems: Int? = nil, detectorGrounded: Int? = nil,
                detectorHits: Int? = nil) {
        self.image = image; self.scored = scored; self.hits = hits; self.grounded = grounded
        self.baselineHits = baselineHits; self.baselinePlayed = baselinePlayed; self.generalCorrect = generalCorrect
        self.energy = energy; self.uniformEnergy = uniformEnergy; self.energyItems = energyItems
        self.detectorGrounded = detectorGrounded; self.detectorHits = detectorHits
    }
}

/// Which grounding file: the standard or the robust model on its own adversarials, or the
/// robust model on the standard model's (transfer).
public enum GroundingRoleName: String, Codable, Sendable, CaseIterable {
    case standard, robust, transfer
}

/// Per-image grounding items of one grounding file.
public struct GroundingRecord: Codable, Sendable, Equatable {
    public var role: GroundingRoleName
    public var path: String
    public var hasPartTruth: Bool
    /// Names of the chance baselines the file holds (e.g. random, centre, box_centre).
    public var baselines: [String]
    public var clean: [GroundingImage]
    public var adversarial: [GroundingImage]

    public init(role: GroundingRoleName, path: String, hasPartTruth: Bool, baselines: [String], clean: [GroundingImage],
                adversarial: [GroundingImage]) {
        self.role = role; self.path = path; self.hasPartTruth = hasPartTruth; self.baselines = baselines
        self.clean = clean; self.adversarial = adversarial
    }
}

/// One attribute explanation, with names (the first few are kept for people).
public struct ExplanationRecord: Codable, Sendable, Equatable {
    public struct Attribute: Codable, Sendable, Equatable {
        public var attribute: String
        public var trueClassValue: Double
        public var wrongClassValue: Double
        public init(attribute: String, trueClassValue: Double, wrongClassValue: Double) {
            self.attribute = attribute; self.trueClassValue = trueClassValue; self.wrongClassValue = wrongClassValue
        }
    }
    public var image: Int
    public var trueClass: String
    public var wrongClass: String
    public var rose: [Attribute]
    public var fell: [Attribute]
    public init(image: Int, trueClass: String, wrongClass: String, rose: [Attribute], fell: [Attribute]) {
        self.image = image; self.trueClass = trueClass; self.wrongClass = wrongClass; self.rose = rose; self.fell = fell
    }
}

/// Everything quantify measures at one eps.
public struct EpsRecord: Codable, Sendable, Equatable {
    /// As in the file names, in [0, 1] pixel units.
    public var eps: String
    public var accuracy: PerClassifier<PerSet<Double>>
    public var robustRatio: PerClassifier<RatioRecord>
    public var distances: Distances
    public var outcomes: ImageOutcomes
    /// Grounding files of this eps (empty when ground did not run).
    public var grounding: [GroundingRecord]
    public var explanationsCount: Int
    public var explanationsSample: [ExplanationRecord]

    public struct Distances: Codable, Sendable, Equatable {
        /// Summaries of study (a) and (b).
        public var standardAttack: StudySummary
        public var robustRecovery: StudySummary
        /// Their images.
        public var standardAttackImages: [StudyImage]
        public var robustRecoveryImages: [StudyImage]
        public init(standardAttack: StudySummary, robustRecovery: StudySummary, standardAttackImages: [StudyImage],
                    robustRecoveryImages: [StudyImage]) {
            self.standardAttack = standardAttack; self.robustRecovery = robustRecovery
            self.standardAttackImages = standardAttackImages; self.robustRecoveryImages = robustRecoveryImages
        }
    }

    public init(eps: String, accuracy: PerClassifier<PerSet<Double>>, robustRatio: PerClassifier<RatioRecord>, distances: Distances,
                outcomes: ImageOutcomes, grounding: [GroundingRecord], explanationsCount: Int, explanationsSample: [ExplanationRecord]) {
        self.eps = eps; self.accuracy = accuracy; self.robustRatio = robustRatio; self.distances = distances
        self.outcomes = outcomes; self.grounding = grounding; self.explanationsCount = explanationsCount
        self.explanationsSample = explanationsSample
    }

    public var value: Double { Double(eps) ?? .nan }
    public func grounding(_ role: GroundingRoleName) -> GroundingRecord? { grounding.first { $0.role == role } }
}

/// quantify's metrics.json: one dataset's metrics per eps, the per-image outcomes the
/// verdicts are bootstrapped from, and the findings. Written by quantify, read by report
/// and the tests through this one type.
public struct MetricsDocument: Codable, Sendable, Equatable {
    /// Bumped when the layout changes; a reader refuses another version.
    public static let currentSchema = 2
    public var schema: Int
    /// The dataset directory's name (e.g. synth-fine).
    public var name: String
    /// The title shown in summaries (e.g. "synth-fine (default profile)").
    public var dataset: String
    public var kind: DatasetKind?
    /// The pipeline's seed for this dataset.
    public var seed: Int
    public var classCount: Int
    public var attributeCount: Int
    public var testImages: Int
    public var topFraction: Double
    /// In [0, 1] pixel units, as in the file names, sorted by value.
    public var eps: [String]
    public var perEps: [EpsRecord]
    public var findings: [Finding]
    /// The SHA-256 of the metrics.h5 written with this document (`metrics_h5_sha256`): the
    /// two are one result, and readers refuse a pair that differs (PipelineKit `MetricsPair`).
    public var metricsH5Sha256: String?

    public init(name: String, dataset: String, kind: DatasetKind?, seed: Int, classCount: Int, attributeCount: Int,
                testImages: Int, topFraction: Double, perEps: [EpsRecord], findings: [Finding] = []) {
        schema = Self.currentSchema
        self.name = name; self.dataset = dataset; self.kind = kind; self.seed = seed; self.classCount = classCount
        self.attributeCount = attributeCount; self.testImages = testImages; self.topFraction = topFraction
        self.perEps = perEps.sorted { $0.value < $1.value }
        eps = self.perEps.map(\.eps)
        self.findings = findings
    }

    public func record(_ eps: String) -> EpsRecord? { perEps.first { $0.eps == eps } }

    /// Reads a metrics.json; errors name the file and what was expected.
    public static func read(_ path: String) throws -> MetricsDocument {
        let document: MetricsDocument = try JSONFiles.read(path, what: "a quantify metrics.json")
        guard document.schema == currentSchema else {
            throw VerdictsError("\(path): schema \(document.schema), expected \(currentSchema): rerun quantify")
        }
        return document
    }

    public func write(to path: String) throws { try JSONFiles.write(self, to: path) }
    public func encoded() throws -> Data { try JSONFiles.encoder.encode(self) }
}

public struct VerdictsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The one JSON convention of the metrics files: snake_case keys, sorted, NaN and
/// infinities as the strings "nan", "inf", "-inf".
public enum JSONFiles {
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    public static func read<T: Decodable>(_ path: String, what: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else { throw VerdictsError("\(path): missing (\(what) was expected)") }
        do {
            return try decoder.decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw VerdictsError("\(path): not \(what): no \"\(key.stringValue)\" at \(pathText(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw VerdictsError("\(path): not \(what): wrong type at \(pathText(context.codingPath)) (\(context.debugDescription))")
        } catch {
            throw VerdictsError("\(path): not \(what): \(error)")
        }
    }

    /// Writes `value` to `path` through a temporary file renamed into place.
    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        let data = try encoder.encode(value)
        let temporary = "\(path).partial-\(getpid())"
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else { throw VerdictsError("\(path): cannot rename \(temporary) into place") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    static func pathText(_ path: [CodingKey]) -> String {
        path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
    }
}

