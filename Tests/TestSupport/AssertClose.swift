import XCTest

/// Asserts `actual` ≈ `expected` element-wise: |a − e| ≤ tolerance · max(1, |e|) (absolute
/// or relative, whichever is larger). On failure reports the count of bad elements and the
/// worst one, with its index, both values and the error.
public func assertClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-4, _ label: String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(label): \(actual.count) elements, expected \(expected.count)", file: file, line: line)
        return
    }
    var worst = (index: -1, error: Float(0))
    var bad = 0
    for index in actual.indices {
        let error = abs(actual[index] - expected[index]) / max(1, abs(expected[index]))
        if !(error <= tolerance) { bad += 1 }  // NaN counts as bad
        if !(error <= worst.error) { worst = (index, error.isNaN ? .infinity : error) }
    }
    if bad > 0 {
        XCTFail("\(label): \(bad) of \(actual.count) elements differ by more than \(tolerance); worst at [\(worst.index)]: "
                + "\(actual[worst.index]) vs expected \(expected[worst.index]) (error \(worst.error))",
                file: file, line: line)
    }
}

/// `assertClose` for doubles.
public func assertClose(_ actual: [Double], _ expected: [Double], tolerance: Double = 1e-9, _ label: String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    assertClose(actual.map(Float.init), expected.map(Float.init), tolerance: Float(tolerance), label, file: file, line: line)
}
