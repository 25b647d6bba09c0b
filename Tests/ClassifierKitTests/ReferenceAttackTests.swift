@testable import ClassifierKit
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// Our attacks against torchattacks on the same weights and images (Tests/Fixtures/attacks,
/// made by make_reference.py there; docs/attacks.md § Reference checks). Random starts and
/// Square's random search draw other numbers than PyTorch's, so robust accuracies are compared
/// within a tolerance fixed before the comparison was run: 0.05 (5 of 100 images) for the
/// APGD attacks and AutoAttack, 0.06 for Square, 0.03 for the deterministic minimal-norm
/// attacks, whose median minimal L2 norm over the images both fooled must also agree within
/// 5% (DeepFool) and 10% (C&W).
final class ReferenceAttackTests: XCTestCase {
    struct Reference {
        let model: ResNet
        let x: Tensor
        let labels: [Int]
        let file: H5File
    }

    func load() throws -> Reference {
        let model = try ResNet.load(from: TestPaths.fixture("attacks/model.h5").path)
        let file = try H5File.open(TestPaths.fixture("attacks/reference.h5").path, mode: .readOnly)
        let images = try file.read("images", as: UInt8.self)
        let (n, size) = (images.shape[0], images.shape[1])
        let x = ImageLayout.tensor(fromNHWC: images.data, count: n, size: size)   // as the pipeline reads images
        let labels = try file.read("labels", as: Int32.self).data.map(Int.init)
        XCTAssertEqual(try model.predict(x).map(Int32.init), try file.read("clean_predictions", as: Int32.self).data,
                       "the engine and PyTorch disagree on the clean predictions")
        return Reference(model: model, x: x, labels: labels, file: file)
    }

    func robustAccuracy(_ predictions: [Int], _ labels: [Int]) -> Double {
        Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    func median(_ values: [Float]) -> Float {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    func int(_ file: H5File, _ name: String, of group: String) throws -> Int { Int(try file.attribute(name, of: group).doubleValue!) }
    func float(_ file: H5File, _ name: String, of group: String) throws -> Float { Float(try file.attribute(name, of: group).doubleValue!) }

    /// Runs `settings` and compares with the reference group `name`.
    func check(_ name: String, _ settings: AttackSettings, tolerance: Double, normTolerance: Float? = nil) throws {
        let r = try load()
        defer { r.file.close() }
        let result = try Attack.run(r.model, x: r.x, labels: r.labels, imageIndices: Array(0..<r.labels.count), settings: settings,
                                    seed: 0)
        let ours = robustAccuracy(result.predictions, r.labels)
        let theirs = try r.file.attribute("robust_accuracy", of: name).doubleValue!
        print("reference \(name): robust accuracy ours \(ours), torchattacks \(theirs)")
        XCTAssertEqual(ours, theirs, accuracy: tolerance, "\(name): robust accuracy")
        if let normTolerance {
            let reference = try r.file.read("\(name)/norm", as: Float.self).data
            let both = r.labels.indices.filter { reference[$0].isFinite && result.minimalNorms[$0].isFinite && result.minimalNorms[$0] > 0 }
            XCTAssertGreaterThan(both.count, r.labels.count / 4, "\(name): too few images fooled by both")
            let (a, b) = (median(both.map { result.minimalNorms[$0] }), median(both.map { reference[$0] }))
            print("reference \(name): median minimal L2 ours \(a), torchattacks \(b) over \(both.count) images")
            XCTAssertEqual(a, b, accuracy: normTolerance * b, "\(name): median minimal norm")
        }
    }

    func eps(_ group: String) throws -> Float {
        let file = try H5File.open(TestPaths.fixture("attacks/reference.h5").path, mode: .readOnly)
        defer { file.close() }
        return try float(file, "eps", of: group)
    }

    func attribute(_ name: String, of group: String) throws -> Int {
        let file = try H5File.open(TestPaths.fixture("attacks/reference.h5").path, mode: .readOnly)
        defer { file.close() }
        return try int(file, name, of: group)
    }

    func testAPGDCE() throws {
        try check("apgd-ce", .apgdCE(eps: try eps("apgd-ce"), steps: try attribute("steps", of: "apgd-ce")), tolerance: 0.05)
    }

    func testAPGDT() throws {
        try check("apgd-dlr", .apgdDLR(eps: try eps("apgd-dlr"), targets: try attribute("targets", of: "apgd-dlr"),
                                       steps: try attribute("steps", of: "apgd-dlr")), tolerance: 0.05)
    }

    func testSquare() throws {
        try check("square", .square(eps: try eps("square"), queries: try attribute("queries", of: "square")), tolerance: 0.06)
    }

    func testAutoAttack() throws {
        try check("autoattack", .autoattack(eps: try eps("autoattack"), targets: try attribute("targets", of: "autoattack"),
                                            steps: try attribute("steps", of: "autoattack"),
                                            queries: try attribute("queries", of: "autoattack")), tolerance: 0.05)
    }

    func testCarliniWagner() throws {
        try check("cw-l2", .cwL2(eps: try eps("cw-l2"), steps: try attribute("steps", of: "cw-l2"), searchSteps: 1, initialConst: 1),
                  tolerance: 0.03, normTolerance: 0.10)
    }

    func testDeepFool() throws {
        try check("deepfool", .deepfool(eps: try eps("deepfool"), steps: try attribute("steps", of: "deepfool")),
                  tolerance: 0.03, normTolerance: 0.05)
    }
}
