import Foundation
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// PyTorch reference tensors copied into Tests/Fixtures/engine (see its README.md).
enum EngineFixtures {
    static func path(_ name: String) -> String { TestPaths.fixture("engine/\(name)").path }

    static func open(_ name: String) throws -> H5File { try H5File.open(path(name), mode: .readOnly) }
}

extension H5File {
    /// A float32 dataset as a Tensor.
    func tensor(_ name: String) throws -> Tensor {
        let a = try read(name, as: Float.self)
        return Tensor(shape: a.shape, data: a.data)
    }

    /// An int32 dataset as Ints (labels).
    func ints(_ name: String) throws -> [Int] {
        try read(name, as: Int32.self).data.map(Int.init)
    }

    /// A numeric attribute as Int.
    func intAttribute(_ name: String, of object: String) throws -> Int {
        Int(try attribute(name, of: object).doubleValue!)
    }

    func floatAttribute(_ name: String, of object: String) throws -> Float {
        Float(try attribute(name, of: object).doubleValue!)
    }
}

/// `assertClose` on tensors, checking shapes first.
func assertTensorClose(_ actual: Tensor?, _ expected: Tensor, tolerance: Float = 1e-4, _ label: String,
                       file: StaticString = #filePath, line: UInt = #line) {
    guard let actual else { XCTFail("\(label): missing", file: file, line: line); return }
    XCTAssertEqual(actual.shape, expected.shape, "\(label): shape", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    assertClose(actual.data, expected.data, tolerance: tolerance, label, file: file, line: line)
}
