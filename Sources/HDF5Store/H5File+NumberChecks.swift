import Foundation

/// Checks on numbers read from an artifact: a stage refuses NaN, ±Inf and out-of-range
/// values instead of computing on them, and says where the first bad one is.
public enum NumberCheck {
    /// Throws unless every value is finite. `values` are whole rows of `rowWidth` numbers
    /// (1 for a vector), the first of which is row `firstRow` of `object` in `file`.
    public static func requireFinite<T: BinaryFloatingPoint>(_ values: UnsafeBufferPointer<T>, rowWidth: Int, firstRow: Int = 0,
                                                            file: String, object: String) throws {
        guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return }
        throw H5Error(file: file, object: object,
                      message: "\(position(bad, rowWidth: rowWidth, firstRow: firstRow)) is \(Double(values[bad])); "
                          + "numbers must be finite (no NaN or Inf)")
    }

    /// `requireFinite` for an array.
    public static func requireFinite<T: BinaryFloatingPoint>(_ values: [T], rowWidth: Int = 1, firstRow: Int = 0,
                                                            file: String, object: String) throws {
        try values.withUnsafeBufferPointer {
            try requireFinite($0, rowWidth: rowWidth, firstRow: firstRow, file: file, object: object)
        }
    }

    /// Throws unless every value is finite and in `range`.
    public static func requireWithin<T: BinaryFloatingPoint>(_ values: [T], _ range: ClosedRange<T>, rowWidth: Int = 1,
                                                            firstRow: Int = 0, file: String, object: String) throws {
        try requireFinite(values, rowWidth: rowWidth, firstRow: firstRow, file: file, object: object)
        guard let bad = values.firstIndex(where: { !range.contains($0) }) else { return }
        throw H5Error(file: file, object: object,
                      message: "\(position(bad, rowWidth: rowWidth, firstRow: firstRow)) is \(Double(values[bad])), "
                          + "outside [\(Double(range.lowerBound)), \(Double(range.upperBound))]")
    }

    /// "row r" or "row r, column c" for element `index` of rows of `rowWidth` values.
    public static func position(_ index: Int, rowWidth: Int, firstRow: Int) -> String {
        let width = max(rowWidth, 1)
        return width == 1 ? "row \(firstRow + index)" : "row \(firstRow + index / width), column \(index % width)"
    }
}
