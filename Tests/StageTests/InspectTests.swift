import HDF5Store
import PipelineKit
import TestSupport
import XCTest

final class InspectTests: XCTestCase {
    func testPrintsProvenanceAndTree() throws {
        let directory = try TestPaths.temporaryDirectory("inspect")
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("model.h5").path
        try StageRun(stage: "train", output: target, seed: 3, parameters: ["epochs": 2], inputs: []).run { file in
            try file.createGroup("arch")
            try file.setAttribute("name", .string("cifar-resnet20"), on: "arch")
            try file.setAttribute("num_classes", .int(10), on: "arch")
            try file.write("params/conv1.weight", [Float](repeating: 0, count: 16 * 3 * 3 * 3), shape: [16, 3, 3, 3])
            try file.write("params/fc.bias", [Float](repeating: 0, count: 10), shape: [10])
            try file.writeStrings("class_names", ["a", "b"])
        }
        let result = try runStage("inspect", [target])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains("stage    train") }, result.stdout)
        XCTAssertTrue(lines.contains { $0.contains("seed     3") }, result.stdout)
        XCTAssertTrue(lines.contains { $0.contains("arch/") && $0.contains("name=cifar-resnet20") && $0.contains("num_classes=10") },
                      result.stdout)
        XCTAssertTrue(lines.contains { $0.contains("conv1.weight") && $0.contains("float32 [16, 3, 3, 3]") }, result.stdout)
        XCTAssertTrue(lines.contains { $0.contains("class_names") && $0.contains("string [2]") }, result.stdout)

        let missing = try runStage("inspect", [directory.appendingPathComponent("nope.h5").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("nope.h5") && missing.stderr.contains("no such file"), missing.stderr)
    }

    /// A committed fixture made by PyTorch/h5py (no attrib-adv provenance): the tree still prints.
    func testPrintsTheTreeOfAFixtureFile() throws {
        let fixture = TestPaths.fixture("engine/resnet20_io.h5").path
        let result = try runStage("inspect", [fixture])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("no attrib-adv provenance"), result.stdout)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains("ifgsm/") && $0.contains("eps=") && $0.contains("steps=3") }, result.stdout)
        XCTAssertTrue(lines.contains { $0.contains("x_adv") && $0.contains("float32 [4, 3, 32, 32]") }, result.stdout)
        XCTAssertTrue(lines.contains { $0.contains("labels") && $0.contains("[4]") }, result.stdout)
    }
}
