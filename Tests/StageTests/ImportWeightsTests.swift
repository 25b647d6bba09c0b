import Foundation
import HDF5Store
import TestSupport
import XCTest

/// Runs the built `import-weights` on the fixture checkpoints and checks the model files.
final class ImportWeightsTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("import-weights") }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// The float32 tensors of a safetensors file, read independently of the engine.
    func safetensors(_ path: String) throws -> [String: (shape: [Int], data: [Float])] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + length)) as! [String: Any]
        var out: [String: ([Int], [Float])] = [:]
        for (key, value) in header {
            guard let entry = value as? [String: Any], entry["dtype"] as? String == "F32" else { continue }
            let shape = entry["shape"] as! [Int], offsets = entry["data_offsets"] as! [Int]
            let bytes = data.subdata(in: 8 + length + offsets[0]..<8 + length + offsets[1])
            out[key] = (shape, bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
        }
        return out
    }

    func testImportsResNet20AndTorchvisionBottleneck() throws {
        for (name, arch, expectedName) in [("resnet20", "cifar-resnet20", "cifar-resnet20"),
                                           ("tvbottleneck", "auto", "resnet-bottleneck-1-2-1-1")] {
            let source = TestPaths.fixture("engine/\(name).safetensors").path
            let output = directory.appendingPathComponent("\(name).h5").path
            let result = try runStage("import-weights", ["--safetensors", source, "--arch", arch, "--output", output])
            XCTAssertEqual(result.status, 0, result.stderr)
            let file = try H5File.open(output)
            defer { file.close() }
            XCTAssertEqual(try file.attribute("name", of: "arch").stringValue, expectedName)
            XCTAssertEqual(try file.attribute("stage").stringValue, "import-weights")   // provenance
            let expected = try safetensors(source)
            let stored = try file.childNames("params")
            XCTAssertEqual(Set(stored.filter { !$0.hasSuffix("num_batches_tracked") }), Set(expected.keys))
            for (key, tensor) in expected {
                let a = try file.read("params/\(key)", as: Float.self)
                XCTAssertEqual(a.shape, tensor.shape, key)
                XCTAssertEqual(a.data, tensor.data, key)
            }
            XCTAssertEqual(try file.readScalar("params/bn1.num_batches_tracked", as: Int64.self), 100)

            // And back to safetensors: the same tensors.
            let exported = directory.appendingPathComponent("\(name)-back.safetensors").path
            let back = try runStage("import-weights", ["--model", output, "--output", exported])
            XCTAssertEqual(back.status, 0, back.stderr)
            let again = try safetensors(exported)
            XCTAssertEqual(Set(again.keys), Set(expected.keys))
            for (key, tensor) in expected { XCTAssertEqual(again[key]?.data, tensor.data, key) }
        }
    }

    func testWrongArchitectureListsKeysAndLeavesNoOutput() throws {
        let output = directory.appendingPathComponent("bad.h5").path
        let result = try runStage("import-weights", ["--safetensors", TestPaths.fixture("engine/resnet20.safetensors").path,
                                                     "--arch", "resnet18", "--output", output])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("missing keys") && result.stderr.contains("layer4.0.conv1.weight"), result.stderr)
        XCTAssertTrue(result.stderr.contains("wrongly shaped keys") && result.stderr.contains("conv1.weight expected [16, 3, 7, 7]"),
                      result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))

        let corrupt = directory.appendingPathComponent("corrupt.safetensors")
        try Data([0x10, 0, 0, 0, 0, 0, 0, 0, 0x7b]).write(to: corrupt)
        let bad = try runStage("import-weights", ["--safetensors", corrupt.path, "--output", output])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("corrupt.safetensors") && bad.stderr.contains("corrupt header"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))

        let both = try runStage("import-weights", ["--output", output])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("exactly one of --safetensors"), both.stderr)
    }
}
